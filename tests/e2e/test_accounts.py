"""Accounts through the gateway (issue: accounts and the gateway's edge)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from stackutil import mailed, text_of, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "Gateway-edge-42"


def client_from(stack: Any, ip: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from `ip` (any 127.x address is this machine)."""
    transport = httpx.HTTPTransport(local_address=ip)
    return httpx.Client(base_url=stack.gateway_url, timeout=15, transport=transport)


def new_email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def register(client: httpx.Client, email: str, name: str = "Barbara") -> httpx.Response:
    return client.post("/auth/register", json={"name": name, "email": email, "password": PASSWORD})


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["code"])


def test_register_login_me_refresh_reuse_logout(stack: Any) -> None:
    with client_from(stack, "127.0.0.21") as client:
        email = new_email()
        assert register(client, email).status_code == 201
        first = login(client, email)
        assert first.status_code == 200
        pair = first.json()
        assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
        assert first.headers["cache-control"] == "no-store"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
        assert "Path=/auth" in cookie

        me = client.get("/user/me", headers=bearer(pair["access_token"]))
        assert me.status_code == 200
        body = me.json()
        assert body["email"] == email and body["plan"] == "free"
        assert body["quota"]["weekly_limit"] == 2 and body["quota"]["remaining"] == 2
        resets = datetime.fromisoformat(body["quota"]["resets_at"])
        assert resets.weekday() == 0 and resets.hour == 0 and resets > datetime.now(UTC)

        rotated = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert rotated.status_code == 200
        second = rotated.json()
        assert second["refresh_token"] != pair["refresh_token"]

        # the old refresh token now fails, and its reuse revokes the whole family
        reused = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert reused.status_code == 401 and problem_code(reused) == "refresh_token_reused"
        after = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert after.status_code == 401 and problem_code(after) == "invalid_token"

        # a fresh login is a new family; the cookie works as well as the body
        third = login(client, email).json()
        client.cookies.clear()
        client.cookies.set("refresh_token", third["refresh_token"])
        by_cookie = client.post("/auth/refresh")
        client.cookies.clear()
        assert by_cookie.status_code == 200, by_cookie.text
        fourth = by_cookie.json()
        out = client.post(
            "/auth/logout",
            headers=bearer(fourth["access_token"]),
            json={"refresh_token": fourth["refresh_token"]},
        )
        assert out.status_code == 204
        gone = client.post("/auth/refresh", json={"refresh_token": fourth["refresh_token"]})
        assert gone.status_code == 401 and problem_code(gone) == "invalid_token"


def _signing_key(stack: Any) -> tuple[Ed25519PrivateKey, str]:
    pem = sorted((Path(stack.data_dir) / "jwt-keys").glob("*.pem"))[-1]
    key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key, pem.stem


def _claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "iss": "mock-interview-auth",
        "aud": "mock-interview",
        "sub": user_id,
        "role": "user",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_forged_and_stale_tokens_are_refused_with_401(stack: Any) -> None:
    key, kid = _signing_key(stack)
    with client_from(stack, "127.0.0.22") as client:
        email = new_email()
        user_id = register(client, email).json()["id"]
        good = jwt.encode(_claims(user_id), key, algorithm="EdDSA", headers={"kid": kid})
        assert client.get("/user/me", headers=bearer(good)).status_code == 200

        jwks_x = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        header_none = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        payload = _b64(
            json.dumps(
                {**_claims(user_id, role="admin"), "iat": 1, "nbf": 1, "exp": 4_000_000_000},
                default=str,
            ).encode()
        )
        head, body, sig = good.split(".")
        tampered_body = _b64(
            json.dumps(
                {**json.loads(base64.urlsafe_b64decode(body + "==")), "role": "admin"}
            ).encode()
        )
        other_key = Ed25519PrivateKey.generate()
        attacks = {
            "alg-none": f"{header_none}.{payload}.",
            "hs256-with-public-key": jwt.encode(
                _claims(user_id), _b64(jwks_x), algorithm="HS256", headers={"kid": kid}
            ),
            "expired": jwt.encode(
                _claims(
                    user_id,
                    iat=datetime.now(UTC) - timedelta(hours=2),
                    nbf=datetime.now(UTC) - timedelta(hours=2),
                    exp=datetime.now(UTC) - timedelta(hours=1),
                ),
                key,
                algorithm="EdDSA",
                headers={"kid": kid},
            ),
            "wrong-aud": jwt.encode(
                _claims(user_id, aud="someone-else"), key, algorithm="EdDSA", headers={"kid": kid}
            ),
            "wrong-iss": jwt.encode(
                _claims(user_id, iss="evil"), key, algorithm="EdDSA", headers={"kid": kid}
            ),
            "no-exp": jwt.encode(
                _claims(user_id, exp=None), key, algorithm="EdDSA", headers={"kid": kid}
            ),
            "tampered-payload": f"{head}.{tampered_body}.{sig}",
            "unknown-kid": jwt.encode(
                _claims(user_id), other_key, algorithm="EdDSA", headers={"kid": "not-a-known-key"}
            ),
            "right-kid-wrong-key": jwt.encode(
                _claims(user_id), other_key, algorithm="EdDSA", headers={"kid": kid}
            ),
            "garbage": "abc.def.ghi",
        }
        for name, token in attacks.items():
            response = client.get("/user/me", headers=bearer(token))
            assert response.status_code == 401, (name, response.text)
            assert problem_code(response) == "invalid_token", name
            assert "Bearer" in response.headers.get("www-authenticate", ""), name

        # token of a deleted user: refused at the edge as soon as the deletion is known
        assert client.delete("/user/me", headers=bearer(good)).status_code == 204
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            response = client.get("/billing/subscription", headers=bearer(good))
            if response.status_code == 401:
                break
            time.sleep(0.1)
        assert response.status_code == 401 and problem_code(response) == "invalid_token"
        assert client.get("/user/me", headers=bearer(good)).status_code == 401
        assert login(client, email).status_code == 401


def test_brute_force_is_throttled_and_the_owner_gets_back_in_after_the_window(stack: Any) -> None:
    email = new_email("victim")
    with client_from(stack, "127.0.0.30") as owner:
        assert register(owner, email).status_code == 201
    statuses = []
    retry_after = []
    with client_from(stack, "127.0.0.31") as attacker:
        for i in range(30):
            response = login(attacker, email, f"Wrong-guess-{i:03d}")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert problem_code(response) == "too_many_requests"
                retry_after.append(int(response.headers["retry-after"]))
                assert response.headers["ratelimit-remaining"] == "0"
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 10 and statuses.count(429) >= 20
    assert all(r >= 1 for r in retry_after)

    with client_from(stack, "127.0.0.32") as owner:
        right_away = login(owner, email)
        assert right_away.status_code == 429  # the account is cooling down, from any IP
        time.sleep(int(right_away.headers["retry-after"]))
        assert login(owner, email).status_code == 200


def test_twenty_concurrent_duplicate_registrations_make_one_account(stack: Any) -> None:
    email = new_email("dup")

    def attempt(i: int) -> int:
        with client_from(stack, f"127.0.1.{i + 10}") as client:
            return register(client, email).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))
    assert results.count(201) == 1, results
    assert results.count(409) == 19, results


def grant_admin(stack: Any, email: str) -> None:
    """What `make admin EMAIL=...` runs, against this stack."""
    cli = subprocess.run(
        [sys.executable, "-m", "auth.cli", "admin", email],
        env=os.environ | stack.environment("auth"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr


def test_admin_routes_are_forbidden_to_users(stack: Any) -> None:
    with client_from(stack, "127.0.0.40") as client:
        email = new_email()
        register(client, email)
        token = login(client, email).json()["access_token"]
        response = client.get("/admin/stats", headers=bearer(token))
        assert response.status_code == 403 and problem_code(response) == "forbidden"

        # the role comes from the operator, never from the address (ADMIN_EMAILS is set in
        # this stack and grants nothing)
        admin_email = "root@example.com"  # listed in ADMIN_EMAILS (conftest)
        assert register(client, admin_email, "Root").status_code == 201
        unproven = login(client, admin_email).json()["access_token"]
        assert client.get("/user/me", headers=bearer(unproven)).json()["role"] == "user"
        grant_admin(stack, admin_email)
        admin = login(client, admin_email).json()["access_token"]
        me = client.get("/user/me", headers=bearer(admin)).json()
        assert me["role"] == "admin"
        stats = client.get("/admin/stats", headers=bearer(admin))
        assert stats.status_code == 200, stats.text
        body = stats.json()
        assert body["unavailable"] == []
        assert body["users"] >= 2 and body["admins"] >= 1
        for key in (
            "interviews_by_status",
            "interviews_by_week",
            "average_score",
            "active_subscriptions",
            "revenue",
            "ai_calls",
            "ai_input_tokens",
            "ai_output_tokens",
            "ai_cost_usd",
            "ai_failures",
        ):
            assert key in body, key


def test_a_role_granted_by_the_operator_shows_in_user_me(stack: Any) -> None:
    """`make admin` writes auth's event store from outside the service; the gateway's cached
    /user/me answer is dropped when UserRoleChanged arrives, and the next read shows admin."""
    with client_from(stack, "127.0.0.42") as client:
        email = new_email("promoted")
        register(client, email)
        token = login(client, email).json()["access_token"]
        assert client.get("/user/me", headers=bearer(token)).json()["role"] == "user"
        assert client.get("/user/me", headers=bearer(token)).json()["role"] == "user"
        grant_admin(stack, email)
        wait_for(
            lambda: client.get("/user/me", headers=bearer(token)).json()["role"] == "admin",
            timeout=15,
            message="/user/me shows the admin role",
        )


def test_edge_headers_and_content_types(stack: Any) -> None:
    with client_from(stack, "127.0.0.41") as client:
        response = client.post(
            "/auth/login",
            content=b"email=a&password=b",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 415 and problem_code(response) == "unsupported_media_type"
        assert response.headers["x-request-id"]
        ok = client.get("/healthz")
        for header in (
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy",
            "referrer-policy",
        ):
            assert header in ok.headers, header
        assert ok.headers["x-frame-options"] == "DENY"
        limited = login(client, new_email(), "Whatever-123")
        assert limited.headers["ratelimit-limit"] and limited.headers["ratelimit-remaining"]
        docs = client.get("/openapi.json").json()
        for path in (
            "/auth/register",
            "/auth/login",
            "/auth/refresh",
            "/auth/logout",
            "/user/me",
            "/questions",
            "/interviews",
            "/interviews/{session_id}",
            "/interviews/{session_id}/submit",
            "/interviews/{session_id}/events",
            "/interviews/{session_id}/transcript",
            "/billing/checkout",
            "/billing/subscription",
            "/billing/webhook",
            "/admin/stats",
        ):
            assert path in docs["paths"], path
        assert not any(p.startswith("/internal") for p in docs["paths"])
        assert client.get("/docs").status_code == 200


def test_a_plain_client_sending_a_large_body_reads_the_413(stack: Any) -> None:
    """Python's urllib sends the whole body before it reads the answer: the gateway drains
    the refused body (up to a bound) instead of closing on a client still sending."""
    import urllib.error
    import urllib.request

    body = b'{"name": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    request = urllib.request.Request(
        stack.gateway_url + "/auth/register",
        data=body,
        headers={"content-type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    problem = json.loads(refused.value.read())
    assert problem["code"] == "payload_too_large"
    assert refused.value.headers["x-content-type-options"] == "nosniff"


def _mailed_link(stack: Any, address: str, kind: str, page: str) -> str:
    """The link in the newest mail of `kind` to `address` that the stack's SMTP catcher kept."""
    message = mailed(stack.mail_dir, address, kind)
    assert message["List-Unsubscribe"] is None  # account security mail
    (link,) = [line.strip() for line in text_of(message).splitlines() if f"/{page}?token=" in line]
    return link


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_verify_the_address_then_reset_a_forgotten_password_by_mail(stack: Any) -> None:
    with client_from(stack, "127.0.0.61") as client:
        address = new_email("recover")
        assert register(client, address).status_code == 201
        pair = login(client, address).json()
        me = client.get("/user/me", headers=bearer(pair["access_token"])).json()
        assert me["email_verified"] is False  # unverified users may practise

        link = _mailed_link(stack, address, "verify_email", "verify-email")
        assert link.startswith(f"{stack.gateway_url}/verify-email?token=")
        verified = client.post("/auth/verify-email", json={"token": _token(link)})
        assert verified.status_code == 204, verified.text
        assert "x-account-changed" not in verified.headers
        me = client.get("/user/me", headers=bearer(pair["access_token"])).json()
        assert me["email_verified"] is True
        again = client.post("/auth/verify-email", json={"token": _token(link)})
        assert again.status_code == 400 and problem_code(again) == "invalid_token"

        known = client.post("/auth/password/forgot", json={"email": address})
        unknown = client.post("/auth/password/forgot", json={"email": new_email("nobody")})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        reset_link = _mailed_link(stack, address, "password_reset", "reset-password")
        new_password = "Recovered-mail-73"
        reset = client.post(
            "/auth/password/reset",
            json={"token": _token(reset_link), "new_password": new_password},
        )
        assert reset.status_code == 204, reset.text

        old = client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert old.status_code == 401
        assert login(client, address).status_code == 401
        assert login(client, address, new_password).status_code == 200
