"""CORS is strict: only CORS_ORIGINS may read responses with credentials."""

from __future__ import annotations

from typing import Any

import httpx
from gateway.main import create_app
from gateway.settings import Settings


async def test_only_listed_origins_are_allowed(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation, cors_origins="https://app.example.com"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        allowed = await c.options(
            "/auth/login",
            headers={
                "origin": "https://app.example.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert allowed.headers["x-request-id"]

        refused = await c.options(
            "/auth/login",
            headers={"origin": "https://evil.example.net", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in refused.headers

        simple = await c.get("/healthz", headers={"origin": "https://evil.example.net"})
        assert "access-control-allow-origin" not in simple.headers
