"""Write the PrometheusRule the Prometheus Operator loads from deploy/observability/alerts.yml,
the one source of the alert rules (promtool tests that file). `--check` exits 1 when the
committed PrometheusRule differs from what alerts.yml renders to (tests and make k8s-check).

    python scripts/render_prometheusrule.py           # rewrite the manifest
    python scripts/render_prometheusrule.py --check
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
ALERTS = REPO / "deploy" / "observability" / "alerts.yml"
MANIFEST = REPO / "deploy" / "k8s" / "base" / "monitoring" / "prometheusrule.yaml"
HEADER = """\
# GENERATED from deploy/observability/alerts.yml by scripts/render_prometheusrule.py: edit
# that file (and its promtool tests, alerts.test.yml), then run the script. make k8s-check
# fails when this copy differs.
"""


def rendered() -> dict[str, Any]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "mock-interview-alerts",
            "labels": {"app.kubernetes.io/name": "mock-interview-alerts"},
        },
        "spec": {"groups": groups},
    }


class _BlockDumper(yaml.SafeDumper):
    """Multi-line expressions as `|` blocks, as in alerts.yml, so the copy stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        committed = yaml.safe_load(MANIFEST.read_text()) if MANIFEST.exists() else None
        if committed != rendered():
            print(
                f"{MANIFEST.relative_to(REPO)} is out of date: "
                "python scripts/render_prometheusrule.py",
                file=sys.stderr,
            )
            return 1
        return 0
    body = yaml.dump(rendered(), Dumper=_BlockDumper, sort_keys=False, width=1000)
    MANIFEST.write_text(HEADER + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
