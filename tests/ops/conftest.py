"""Ops tests: the deployment manifests, the observability rules and the operator scripts,
checked the way CI and an operator use them. The scripts live in scripts/ (not a package)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))
