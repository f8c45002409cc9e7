"""The baseline for bench/gateway.py: a bare FastAPI app whose `GET /user/me` returns the
JSON body the real endpoint returned (read from the file named by BENCH_BODY_FILE), with
nothing in front of it: no middleware, no token check, no database. `GET /questions`
answers the same body: the cheap upstream behind the gateway-hop-only measurement.

Started by bench/gateway.py as

    python -m uvicorn --app-dir bench --factory _bare_app:create_app \
        --host 127.0.0.1 --port N --no-proxy-headers --no-server-header --log-level warning
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def create_app() -> FastAPI:
    body: dict[str, Any] = json.loads(Path(os.environ["BENCH_BODY_FILE"]).read_text())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/user/me")
    async def me(response: Response) -> dict[str, Any]:
        # like the real handler: no-store headers, a fresh dict serialised per request
        response.headers.update(NO_STORE)
        return dict(body)

    @app.get("/questions")
    async def questions(response: Response) -> dict[str, Any]:
        response.headers.update(NO_STORE)
        return dict(body)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
