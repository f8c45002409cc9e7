"""When Redis is down the gateway says so in /readyz (and service_dependency_up), and lets
requests through or refuses them with 503 as RATE_LIMIT_FAIL_OPEN says. It stays ready
either way: Redis is shared by every replica, so taking them all out of the Service would
only turn its 503 problem+json answers into the ingress's bare 503s."""

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
                assert ready.json()["checks"]["redis"] is False
                assert "redis" not in ready.json()["gating"]
                response = await client.post(
                    "/auth/login", json={"email": "a@b.co", "password": "x"}
                )
                assert response.status_code == 503
                assert response.json()["code"] == "service_unavailable"
                assert "Rate limiting is unavailable" in response.json()["detail"]
                assert response.headers["retry-after"] == "5"


async def test_with_redis_down_revocations_fail_closed_until_this_replica_knows_them(
    isolation: dict[str, Any], mint: Any
) -> None:
    from gateway.adapters.revocations import RevocationMemory

    settings = Settings(
        **isolation,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rate_limit_fail_open=True,
        interviews_url=f"http://127.0.0.1:{free_port()}",  # nothing there
    )
    app = create_app(settings)
    app.state.edge.verifier = mint.verifier()
    async with running(app, ready_timeout=20) as client:
        ready = (await client.get("/readyz")).json()
        assert "revocations cannot be checked yet" in ready["skipped"]["redis"]
        # just started: a deletion from before this replica listened could be missed
        early = await client.get("/interviews", headers=mint.headers("someone"))
        assert early.status_code == 503 and early.json()["code"] == "service_unavailable"
        assert "cannot be checked" in early.json()["detail"]

        # a replica that has listened for a whole token lifetime knows every revocation
        memory = RevocationMemory(settings.jwt_access_ttl_seconds + 60)
        memory.listening_since -= memory.keep_seconds
        memory.deleted("gone")
        app.state.edge.revocations = memory
        ready = (await client.get("/readyz")).json()
        assert "this replica's own copy" in ready["skipped"]["redis"]
        refused = await client.get("/interviews", headers=mint.headers("gone"))
        assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
        allowed = await client.get("/interviews", headers=mint.headers("someone"))
        assert allowed.status_code == 503 and "interviews service" in allowed.json()["detail"]
