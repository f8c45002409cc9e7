"""The chaos suite imports the stack launcher and its own driver by module name."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for extra in (HERE.parents[1] / "scripts", HERE.parents[1] / "tests" / "e2e", HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))
