"""JSON Schema export of the envelope, every event and the problem model.

`python -m contracts.schemas_export [DIR]` (or `make contracts`) writes them; a test compares
the committed files with a fresh export so the schemas cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.envelope import EventEnvelope
from contracts.events import EVENT_TYPES
from contracts.problem import Problem

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema document."""
    out: dict[str, dict[str, Any]] = {
        "EventEnvelope.json": EventEnvelope.model_json_schema(),
        "Problem.json": Problem.model_json_schema(),
    }
    for name, model in sorted(EVENT_TYPES.items()):
        if model.__module__ != "contracts.events":
            continue  # events registered by tests or plugins are not the platform's contract
        schema = model.model_json_schema()
        schema["x-event-type"] = name
        schema["x-schema-version"] = model.schema_version
        out[f"{name}.v{model.schema_version}.json"] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path = DEFAULT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = all_schemas()
    for stale in directory.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, schema in wanted.items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    for p in write(target):
        print(p)
