"""GET /user/me from the edge's read model: answered from Redis until something it shows
changes, and asked of the services again at once when it does (a write through the gateway,
or an event from the service that owns the change). The services are a stand-in on a real
socket that counts what it is asked, so the test can tell a cached answer from a fresh one;
the real services answer the same paths in tests/e2e."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web
from contracts import (
    DomainEvent,
    EventEnvelope,
    PlanUpgraded,
    SessionStatusChanged,
    UserDeleted,
    UserRoleChanged,
)
from gateway.adapters.edgestore import Policy
from gateway.main import create_app
from gateway.settings import Settings
from servicekit.metrics import REGISTRY
from servicekit.testing import TokenMint, eventually, free_port, put_on_bus, running


@dataclass
class Upstream:
    """auth's GET /user/me and interviews' /internal/quota and POST /interviews, for one user."""

    user_id: str
    role: str = "user"
    plan: str = "free"
    used: int = 0
    quota_down: bool = False
    asked: Counter[str] = field(default_factory=Counter)

    def app(self) -> web.Application:
        async def me(request: web.Request) -> web.Response:
            self.asked["auth"] += 1
            return web.json_response(
                {
                    "id": self.user_id,
                    "name": "Ada",
                    "email": "ada@example.com",
                    "role": self.role,
                    "created_at": "2026-11-01T00:00:00+00:00",
                    "plan": self.plan,
                }
            )

        async def quota(request: web.Request) -> web.Response:
            self.asked["quota"] += 1
            if self.quota_down:
                return web.json_response({"code": "boom"}, status=500)
            limit = 2 if self.plan == "free" else 20
            return web.json_response(
                {
                    "weekly_limit": limit,
                    "used": self.used,
                    "remaining": limit - self.used,
                    "resets_at": "2099-01-05T00:00:00+00:00",
                    "plan": self.plan,
                }
            )

        async def start(request: web.Request) -> web.Response:
            self.used += 1
            return web.json_response({"id": "s1", "status": "preparing"}, status=202)

        app = web.Application()
        app.router.add_get("/user/me", me)
        app.router.add_get("/internal/quota", quota)
        app.router.add_post("/interviews", start)
        return app


@dataclass
class Gateway:
    client: httpx.AsyncClient
    app: Any
    upstream: Upstream
    headers: dict[str, str]
    mint: TokenMint

    async def me(self) -> httpx.Response:
        response = await self.client.get("/user/me", headers=self.headers)
        assert response.status_code == 200, response.text
        return response

    async def publish(self, event: DomainEvent) -> None:
        rt = self.app.state.runtime
        envelope = EventEnvelope.wrap(
            event,
            producer="test",
            aggregate_type="test",
            aggregate_id=str(uuid.uuid4()),
            aggregate_version=1,
        )
        await put_on_bus(rt, envelope)

    async def asks_again(self) -> bool:
        before = self.upstream.asked["auth"]
        await self.me()
        return self.upstream.asked["auth"] > before


def _counts() -> dict[str, float]:
    """The read model's counters and the /user/me request count (the registry is shared by
    every test in this process, so tests compare before and after)."""
    counts = {
        result: REGISTRY.get_sample_value("gateway_me_cache_total", {"result": result}) or 0.0
        for result in ("hit", "miss", "stored", "refused")
    }
    labels = {"service": "gateway", "method": "GET", "route": "/user/me", "status": "200"}
    counts["requests"] = REGISTRY.get_sample_value("http_requests_total", labels) or 0.0
    return counts


@asynccontextmanager
async def _gateway(
    isolation: dict[str, Any], mint: TokenMint, **settings: Any
) -> AsyncIterator[Gateway]:
    upstream = Upstream(user_id=str(uuid.uuid4()))
    runner = web.AppRunner(upstream.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    app = create_app(
        Settings(
            **isolation,
            auth_url=url,
            interviews_url=url,
            rate_limit_ip="1000/3600",  # refills a cell every 3.6 s: the counts below are exact
            rate_limit_user="1000/3600",
            **settings,
        )
    )
    app.state.edge.verifier = mint.verifier()
    try:
        async with running(app, ready_timeout=60) as client:
            yield Gateway(client, app, upstream, mint.headers(upstream.user_id), mint)
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway(isolation: dict[str, Any], mint: TokenMint) -> AsyncIterator[Gateway]:
    async with _gateway(isolation, mint) as g:
        yield g


async def test_the_second_read_is_the_same_answer_without_asking_the_services(
    gateway: Gateway,
) -> None:
    before = _counts()
    first = await gateway.me()
    second = await gateway.me()
    assert gateway.upstream.asked == Counter({"auth": 1, "quota": 1})
    assert first.content == second.content
    body = second.json()
    assert body["plan"] == "free" and body["quota"]["used"] == 0 and body["role"] == "user"
    for response in (first, second):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert len(response.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    # a cached answer still spends exactly one request of the user's budget
    assert (
        int(first.headers["ratelimit-remaining"]) - int(second.headers["ratelimit-remaining"]) == 1
    )
    after = _counts()
    assert after["hit"] - before["hit"] == 1
    assert after["miss"] - before["miss"] == 1
    assert after["stored"] - before["stored"] == 1
    assert after["requests"] - before["requests"] == 2
    assert 'gateway_me_cache_total{result="hit"}' in (await gateway.client.get("/metrics")).text


async def test_a_write_through_the_gateway_shows_in_the_next_read(gateway: Gateway) -> None:
    await gateway.me()
    started = await gateway.client.post(
        "/interviews", json={"type": "coding"}, headers=gateway.headers
    )
    assert started.status_code == 202
    assert (await gateway.me()).json()["quota"]["used"] == 1
    assert gateway.upstream.asked["auth"] == 2


@pytest.mark.parametrize("change", ["role", "plan", "session_failed", "deleted"])
async def test_a_change_announced_by_its_owner_shows_in_the_next_read(
    gateway: Gateway, change: str
) -> None:
    await gateway.me()
    assert not await gateway.asks_again()
    user_id = gateway.upstream.user_id
    now = datetime.now(UTC)
    if change == "role":
        gateway.upstream.role = "admin"
        event: DomainEvent = UserRoleChanged(user_id=user_id, role="admin", changed_at=now)
    elif change == "plan":
        gateway.upstream.plan = "premium"
        event = PlanUpgraded(user_id=user_id, plan="premium", weekly_limit=20, effective_at=now)
    elif change == "session_failed":
        gateway.upstream.used = 0  # interviews gave the quota back
        event = SessionStatusChanged(
            session_id="s1", user_id=user_id, status="failed", sequence=3, changed_at=now
        )
    else:
        event = UserDeleted(user_id=user_id, deleted_at=now)
    await gateway.publish(event)
    if change == "deleted":

        async def refused() -> bool:
            response = await gateway.client.get("/user/me", headers=gateway.headers)
            return response.status_code == 401

        await eventually(refused, timeout=15, message="a deleted user's token is refused")
        key = f"{gateway.app.state.store.prefix}me:{user_id}"

        async def dropped() -> bool:
            return not await gateway.app.state.store.client.exists(key)

        await eventually(dropped, timeout=15, message="the deleted user's answer is dropped")
        return
    await eventually(gateway.asks_again, timeout=15, message=f"{change} drops the answer")
    body = (await gateway.me()).json()
    assert (body["role"], body["plan"]) == (
        ("admin", "free")
        if change == "role"
        else ("user", "premium" if change == "plan" else "free")
    )


async def test_a_plan_change_is_not_cached_until_interviews_shows_it(gateway: Gateway) -> None:
    await gateway.me()
    now = datetime.now(UTC)
    user_id = gateway.upstream.user_id
    # billing announced premium, interviews has not applied it yet
    await gateway.publish(
        PlanUpgraded(user_id=user_id, plan="premium", weekly_limit=20, effective_at=now)
    )
    await eventually(gateway.asks_again, timeout=15, message="the upgrade drops the answer")
    assert (await gateway.me()).json()["plan"] == "free"
    assert await gateway.asks_again()  # still not kept: it does not show the announced plan
    gateway.upstream.plan = "premium"
    assert (await gateway.me()).json()["plan"] == "premium"
    assert not await gateway.asks_again()


async def test_a_partial_answer_is_served_but_never_kept(gateway: Gateway) -> None:
    gateway.upstream.quota_down = True
    body = (await gateway.me()).json()
    assert body["id"] == gateway.upstream.user_id and "quota" not in body  # auth's own view
    assert await gateway.asks_again()
    gateway.upstream.quota_down = False
    assert "quota" in (await gateway.me()).json()
    assert not await gateway.asks_again()


async def test_refusals_on_the_fast_lane_are_problems(gateway: Gateway) -> None:
    bad = await gateway.client.get("/user/me", headers={"authorization": "Bearer a.b.c"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["code"] == "invalid_token" and bad.headers["x-request-id"]
    none = await gateway.client.get("/user/me")
    assert none.status_code == 401
    assert gateway.upstream.asked == Counter()
    # both attempts spent the IP's budget (the user's is untouched): 1000 - 2 - this one
    assert (await gateway.me()).headers["ratelimit-remaining"] == "997"


async def test_the_user_budget_holds_on_the_fast_lane(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with _gateway(isolation, mint) as gateway:
        gateway.app.state.edge.policies["user"] = Policy("user", 2, 60)
        assert (await gateway.client.get("/user/me", headers=gateway.headers)).status_code == 200
        assert (await gateway.client.get("/user/me", headers=gateway.headers)).status_code == 200
        refused = await gateway.client.get("/user/me", headers=gateway.headers)
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_requests"
        assert int(refused.headers["retry-after"]) >= 1
        assert gateway.upstream.asked["auth"] == 1


async def test_with_no_time_to_keep_every_read_asks(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with _gateway(isolation, mint, me_cache_seconds=0) as gateway:
        # not even an answer another gateway (with the read model on) left in the same Redis
        await gateway.app.state.store.fill_me(gateway.upstream.user_id, 0, b"{}", 60, "free")
        assert "quota" in (await gateway.me()).json()
        assert await gateway.asks_again()


async def test_a_token_issued_after_a_role_change_is_not_answered_from_before_it(
    gateway: Gateway,
) -> None:
    """The operator's role change reaches the gateway as an event; a login in between gets
    a token with the new role at once, and its /user/me must not show the old one."""
    assert (await gateway.me()).json()["role"] == "user"  # cached now
    gateway.upstream.role = "admin"  # auth has the change; its event is not here yet
    admin = gateway.client.get(
        "/user/me", headers=gateway.mint.headers(gateway.upstream.user_id, role="admin")
    )
    assert (await admin).json()["role"] == "admin"
    assert gateway.upstream.asked["auth"] == 2
