"""The image build matrix for CI, read from docker-compose.yml: one entry per image the compose
file builds (always from the repository root, as `make compose-check` requires) with the
Dockerfile and build arguments it is built with - each service from deploy/Dockerfile, the
web app from deploy/web/Dockerfile. The compose file is the one place those are written
(`make compose-check` checks them), so CI builds what `make stack` builds and a new service
needs no edit of the workflow.

    python scripts/image_matrix.py [docker-compose.yml]    # prints {"include": [...]}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def matrix(compose: Path) -> dict[str, list[dict[str, str]]]:
    doc = yaml.safe_load(compose.read_text())
    include = []
    for name, service in (doc.get("services") or {}).items():
        build: Any = service.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if not isinstance(build, dict):
            continue  # an image pulled as it is (MongoDB, RabbitMQ, ...)
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(str(item).partition("=")[::2] for item in args)
        include.append(
            {
                "service": name,
                "dockerfile": build.get("dockerfile", "Dockerfile"),
                # docker/build-push-action's build-args: one NAME=value a line
                "build-args": "\n".join(f"{key}={value}" for key, value in args.items()),
            }
        )
    return {"include": include}


def main(argv: list[str]) -> int:
    compose = Path(argv[0]) if argv else REPO / "docker-compose.yml"
    result = matrix(compose)
    if not result["include"]:
        print(f"image-matrix: no service in {compose} builds an image", file=sys.stderr)
        return 1
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
