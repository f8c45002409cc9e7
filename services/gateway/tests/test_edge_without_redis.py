"""When Redis is down the gateway says so in /readyz, and lets requests through or refuses
them with 503 as RATE_LIMIT_FAIL_OPEN says."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.main import create_app
from gateway.settings import Settings
from servicekit.testing import free_port, running


@pytest.mark.parametrize("fail_open", [True, False])
async def test_redis_down(isolation: dict[str, Any], fail_open: bool) -> None:
    closed = free_port()
    settings = Settings(
        **isolation,
        redis_url=f"redis://127.0.0.1:{closed}/0",
        rate_limit_fail_open=fail_open,
        auth_url=f"http://127.0.0.1:{free_port()}",  # nothing there either
    )
    app = create_app(settings)
    ready_timeout = 20 if fail_open else 0.5
    if fail_open:
        async with running(app, ready_timeout=ready_timeout) as client:
            ready = (await client.get("/readyz")).json()
            assert ready["status"] == "ready"
            assert ready["degraded_without"] == {"redis": False}
            # limits are skipped: the request travels on and meets the (absent) auth service
            response = await client.post("/auth/login", json={"email": "a@b.co", "password": "x"})
            assert response.status_code == 503
            assert "auth service" in response.json()["detail"]
    else:
        async with app.router.lifespan_context(app):
            import httpx

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                ready = await client.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["redis"] is False
                response = await client.post(
                    "/auth/login", json={"email": "a@b.co", "password": "x"}
                )
                assert response.status_code == 503
                assert response.json()["code"] == "service_unavailable"
                assert "Rate limiting is unavailable" in response.json()["detail"]
                assert response.headers["retry-after"] == "5"
