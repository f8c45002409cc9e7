"""The probes of the security review, each replayed against the gateway in-process with real
Redis and RabbitMQ; the services behind it are a stand-in on a real socket that records what
reached it."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from contracts import EventEnvelope, UserRoleChanged
from gateway.main import create_app
from gateway.settings import Settings
from servicekit.testing import TokenMint, eventually, free_port, put_on_bus, running

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy")


@dataclass
class Services:
    """Every service at one address: records the raw paths it was asked for."""

    paths: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        async def anything(request: web.Request) -> web.Response:
            self.paths.append(request.raw_path)
            if request.path == "/auth/login":
                return web.json_response(
                    {"type": "about:blank", "code": "invalid_credentials", "status": 401},
                    status=401,
                    content_type="application/problem+json",
                )
            if request.method == "DELETE" and request.path == "/user/me":
                return web.Response(status=204)
            if request.path.startswith("/internal/"):
                return web.json_response({})
            return web.json_response({"ok": True}, status=200 if request.method == "GET" else 202)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", anything)
        return app


@dataclass
class Gateway:
    client: httpx.AsyncClient
    app: Any
    services: Services


@asynccontextmanager
async def gateway_with(
    isolation: dict[str, Any], mint: TokenMint, **settings: Any
) -> AsyncIterator[Gateway]:
    services = Services()
    runner = web.AppRunner(services.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    options: dict[str, Any] = {
        "rate_limit_ip": "1000/3600",
        "rate_limit_user": "1000/3600",
        "max_body_bytes": 10_000,
    } | settings
    app = create_app(
        Settings(
            **isolation,
            auth_url=url,
            interviews_url=url,
            ai_runner_url=url,
            billing_url=url,
            notifications_url=url,
            **options,
        )
    )
    app.state.edge.verifier = mint.verifier()
    try:
        async with running(app, ready_timeout=60) as client:
            yield Gateway(client, app, services)
    finally:
        await runner.cleanup()


async def test_other_spellings_of_an_email_share_its_login_budget(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint, rate_limit_login_account="3/300") as gw:
        spellings = [
            "ada@example.com",
            "  ADA@Example.com ",
            "\uff41\uff44\uff41@example.com",  # fullwidth: NFKC makes it ada@example.com
            "Ada@EXAMPLE.COM",
        ]
        codes = []
        for email in spellings:
            response = await gw.client.post(
                "/auth/login", json={"email": email, "password": "Guess-123456"}
            )
            codes.append(response.status_code)
        assert codes == [401, 401, 401, 429], codes
        assert len([p for p in gw.services.paths if p == "/auth/login"]) == 3


async def test_recovery_calls_share_a_small_budget_per_ip(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint, rate_limit_recovery_ip="3/600") as gw:
        calls = [
            ("/auth/password/forgot", {"email": "ada@example.com"}),
            ("/auth/password/reset", {"token": "guess-1", "new_password": "Guess-1234567"}),
            ("/auth/verify-email", {"token": "guess-2"}),
            ("/auth/password/forgot", {"email": "bob@example.com"}),
        ]
        codes = [(await gw.client.post(path, json=body)).status_code for path, body in calls]
        assert 429 not in codes[:3], codes
        assert codes[3] == 429, codes
        # the refused one never reached auth: no mail goes out for it
        assert gw.services.paths.count("/auth/password/forgot") == 1


async def test_reset_mail_for_one_address_is_limited_from_any_ip_known_or_not(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint, rate_limit_recovery_account="2/3600") as gw:
        spellings = ["ada@example.com", "ADA@Example.com", " ada@example.com"]
        codes = [
            (await gw.client.post("/auth/password/forgot", json={"email": e})).status_code
            for e in spellings
        ]
        assert codes == [202, 202, 429], codes
        # another address keeps its own budget
        other = await gw.client.post("/auth/password/forgot", json={"email": "bob@example.com"})
        assert other.status_code == 202
        assert gw.services.paths.count("/auth/password/forgot") == 3


async def test_only_the_one_click_unsubscribe_takes_a_form_body(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` as a form."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with gateway_with(isolation, mint) as gw:
        one_click = await gw.client.post(
            "/notifications/unsubscribe?token=abc",
            content=b"List-Unsubscribe=One-Click",
            headers=form,
        )
        assert one_click.status_code == 202, one_click.text  # what the stand-in answers
        assert "/notifications/unsubscribe?token=abc" in gw.services.paths
        elsewhere = await gw.client.post("/auth/password/forgot", content=b"a=b", headers=form)
        assert elsewhere.status_code == 415
        bad_json = await gw.client.post("/notifications/unsubscribe", json={"token": 7})
        assert bad_json.status_code == 422
        assert gw.services.paths.count("/notifications/unsubscribe") == 0


async def test_refusals_before_routing_carry_headers_spend_the_budget_and_keep_metrics_small(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint, rate_limit_ip="6/3600") as gw:
        long_path = "/x" + "a" * 30_000
        too_large = await gw.client.post(
            "/auth/login",
            content=b"{" + b" " * 20_000 + b"}",
            headers={"content-type": "application/json"},
        )
        assert too_large.status_code == 413 and too_large.json()["code"] == "payload_too_large"
        not_json = await gw.client.post("/auth/login", content=b"a=b")
        assert not_json.status_code == 415
        made_up = await gw.client.get(long_path)
        assert made_up.status_code == 404 and made_up.json()["code"] == "not_found"
        wrong_method = await gw.client.patch("/billing/webhook", json={})
        assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["allow"]
        bad_path = await gw.client.get("/interviews/%2e%2e/admin")
        assert bad_path.status_code == 400 and bad_path.json()["code"] == "invalid_path"
        for response in (too_large, not_json, made_up, wrong_method, bad_path):
            assert response.headers["content-type"] == "application/problem+json"
            for header in SECURITY_HEADERS:
                assert header in response.headers, (response.status_code, header)
            assert response.headers["x-request-id"]
        # five refusals spent five of the six cells: the sixth request passes, the next do not
        assert (await gw.client.get(long_path)).status_code == 404
        for attempt in (
            gw.client.get(long_path),
            gw.client.post("/auth/login", content=b"a=b"),
            gw.client.post(
                "/auth/login",
                content=b"{" + b" " * 20_000 + b"}",
                headers={"content-type": "application/json"},
            ),
            gw.client.get("/interviews/%2E%2E/admin"),
        ):
            limited = await attempt
            assert limited.status_code == 429, limited.text
            assert limited.json()["code"] == "too_many_requests" and limited.headers["retry-after"]
            for header in SECURITY_HEADERS:
                assert header in limited.headers
        metrics = (await gw.client.get("/metrics")).text
        assert "aaaaaaaaaa" not in metrics
        assert 'route="unmatched"' in metrics
        # no label made of what the client sent: the routes stay the app's own templates (the
        # registry is the process's, shared with every test before, so its size says nothing)
        routes = set(re.findall(r'route="([^"]*)"', metrics))
        assert all(len(r) < 100 for r in routes), sorted(routes, key=len)[-3:]
        assert len(routes) < 200, len(routes)
        assert gw.services.paths == []  # nothing refused reached a service


@pytest.mark.parametrize(
    "path",
    [
        "/interviews/%2e%2e/%2e%2e/admin/stats",
        "/interviews/abc%2Fdef",
        "/interviews/abc%252Fdef",
        "/interviews/abc%5c..",
        "/questions/%00",
    ],
)
async def test_a_path_a_service_could_read_differently_is_refused(
    isolation: dict[str, Any], mint: TokenMint, path: str
) -> None:
    async with gateway_with(isolation, mint) as gw:
        response = await gw.client.get(path, headers=mint.headers(str(uuid.uuid4())))
        assert response.status_code == 400 and response.json()["code"] == "invalid_path"
        assert gw.services.paths == []


async def test_dot_segments_sent_raw_are_refused(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    """An HTTP client resolves '..' before sending; a raw request (here, an ASGI call with
    the path a server would hand over) keeps it."""
    async with gateway_with(isolation, mint) as gw:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        for raw in (b"/interviews/../admin/stats", b"/interviews/./x", b"/a/b/.."):
            sent.clear()
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": raw.decode(),
                "raw_path": raw,
                "root_path": "",
                "query_string": b"",
                "headers": [(b"host", b"gw")],
                "client": ("127.0.0.9", 5000),
                "server": ("gw", 80),
            }
            await gw.app(scope, receive, send)
            assert sent[0]["status"] == 400, (raw, sent)
        assert gw.services.paths == []


async def test_the_path_reaches_the_service_as_sent(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint) as gw:
        headers = mint.headers(str(uuid.uuid4()))
        response = await gw.client.get("/questions/two-sum?limit=5", headers=headers)
        assert response.status_code == 200
        response = await gw.client.get("/interviews/a%20b", headers=headers)
        assert response.status_code == 200
        assert gw.services.paths == ["/questions/two-sum?limit=5", "/interviews/a%20b"]


async def test_tokens_that_live_too_long_or_start_in_the_future_are_refused(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint) as gw:
        user = str(uuid.uuid4())
        ok = await gw.client.get("/interviews", headers=mint.headers(user))
        assert ok.status_code == 200
        forever = mint.token(user, ttl=10 * 365 * 86400)
        now = int(time.time())
        future = jwt.encode(
            {
                "iss": mint.issuer,
                "aud": mint.audience,
                "sub": user,
                "role": "user",
                "iat": now + 3600,
                "nbf": now - 10,
                "exp": now + 3600 + 600,
            },
            mint.key,
            algorithm="EdDSA",
            headers={"kid": mint.kid},
        )
        for token in (forever, future):
            response = await gw.client.get(
                "/interviews", headers={"authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401 and response.json()["code"] == "invalid_token"


async def _publish(gw: Gateway, event: Any) -> None:
    envelope = EventEnvelope.wrap(
        event,
        producer="auth",
        aggregate_type="user",
        aggregate_id=event.user_id,
        aggregate_version=2,
    )
    await put_on_bus(gw.app.state.runtime, envelope)


async def test_a_demoted_admin_loses_admin_routes_before_the_token_expires(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint) as gw:
        admin = str(uuid.uuid4())
        old_token = mint.headers(admin, "admin")
        assert (await gw.client.get("/admin/stats", headers=old_token)).status_code == 200
        await _publish(
            gw, UserRoleChanged(user_id=admin, role="user", changed_at=datetime.now(UTC))
        )

        async def refused() -> bool:
            response = await gw.client.get("/admin/stats", headers=old_token)
            return response.status_code == 401 and response.json()["code"] == "invalid_token"

        await eventually(refused, timeout=15, message="the old admin token is refused")

        # the shared copy says so too, for replicas that joined after the event
        async def shared() -> bool:
            return await gw.app.state.store.demoted_at(admin) is not None

        await eventually(shared, timeout=15, message="Redis holds the demotion")
        # the refreshed token says "user": admin routes answer 403, the rest work
        fresh = mint.headers(admin, "user")
        assert (await gw.client.get("/admin/stats", headers=fresh)).status_code == 403
        assert (await gw.client.get("/interviews", headers=fresh)).status_code == 200
        # made admin again: a new admin token works
        await asyncio.sleep(1.1)  # iat has whole seconds: the new token is newer than the change
        await _publish(
            gw, UserRoleChanged(user_id=admin, role="admin", changed_at=datetime.now(UTC))
        )

        async def admin_again() -> bool:
            response = await gw.client.get("/admin/stats", headers=mint.headers(admin, "admin"))
            return response.status_code == 200

        await eventually(admin_again, timeout=15, message="a re-promoted admin gets in")


async def test_a_deleted_account_is_refused_from_the_moment_of_the_204(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint) as gw:
        user = str(uuid.uuid4())
        headers = mint.headers(user)
        deleted = await gw.client.delete("/user/me", headers=headers)
        assert deleted.status_code == 204
        # no event has come round yet: the gateway revoked the token before answering
        after = await gw.client.post("/interviews", json={"type": "coding"}, headers=headers)
        assert after.status_code == 401 and after.json()["code"] == "invalid_token"
        assert not [p for p in gw.services.paths if p == "/interviews"]


async def test_the_local_checkout_refuses_a_form_posted_from_another_site(
    isolation: dict[str, Any], mint: TokenMint
) -> None:
    async with gateway_with(isolation, mint) as gw:
        pay = "/billing/local-checkout/cs_local_abc/pay"
        for headers in (
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"sec-fetch-site": "cross-site", "origin": "http://service"},
            {"sec-fetch-site": "same-site"},
        ):
            refused = await gw.client.post(pay, headers=headers)
            assert refused.status_code == 403, (headers, refused.text)
            assert refused.json()["code"] == "cross_site_request"
        assert gw.services.paths == []
        # the page's own form (same origin), and a client that is not a browser, go through
        for headers in (
            {"origin": "http://service", "sec-fetch-site": "same-origin"},
            # what Chromium sends from the page's own form under Referrer-Policy: no-referrer
            {"origin": "null", "sec-fetch-site": "same-origin"},
            {},
        ):
            sent = await gw.client.post(
                "/billing/local-checkout/cs_local_abc/decline", headers=headers
            )
            assert sent.status_code == 202, (headers, sent.text)
        assert len(gw.services.paths) == 3
