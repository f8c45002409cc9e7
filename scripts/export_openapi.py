"""Write the gateway's OpenAPI document, the only thing the web app is written against.

`make web-types` runs it into web/src/api/openapi.json, from which the TypeScript types are
generated; a test fails when the committed copy no longer matches the gateway.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def gateway_openapi() -> dict[str, object]:
    from gateway.main import create_app

    return create_app().openapi()


def render(schema: dict[str, object]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    text = render(gateway_openapi())
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    else:
        sys.stdout.write(text)
