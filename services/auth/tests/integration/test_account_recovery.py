"""Password reset and email verification: auth in-process against the real Mongo-wire
server and RabbitMQ; the mailed tokens are read from the outbox, where notifications would
receive them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from auth.main import create_app
from auth.settings import Settings
from servicekit.testing import eventually, running

STRONG = "Correct-horse-42"
NEW = "Battery-staple-77"


async def _register_and_login(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    registered = await client.post(
        "/auth/register", json={"name": "Ada Lovelace", "email": email, "password": STRONG}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": STRONG})
    assert login.status_code == 200
    body: dict[str, Any] = login.json()
    return body


async def _mailed(app: Any, event_type: str, email: str) -> list[dict[str, Any]]:
    rows = (
        await app.state.runtime.db["outbox"]
        .find({"event_type": event_type, "envelope.payload.email": email})
        .sort("created_at", 1)
        .to_list()
    )
    return [row["envelope"]["payload"] for row in rows]


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {pair['access_token']}"}


async def test_forgot_answers_the_same_for_known_and_unknown_addresses(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        await _register_and_login(client, "ada@example.com")
        known = await client.post("/auth/password/forgot", json={"email": " ADA@example.com"})
        unknown = await client.post("/auth/password/forgot", json={"email": "nobody@example.com"})
        malformed = await client.post("/auth/password/forgot", json={"email": "not-an-email"})
        for response in (known, unknown, malformed):
            assert response.status_code == 202
            assert response.json() == known.json()
        # only the real account gets a mail, with a token auth keeps as a hash only
        sent = await _mailed(app, "PasswordResetRequested", "ada@example.com")
        assert len(sent) == 1 and sent[0]["name"] == "Ada Lovelace"
        assert not await _mailed(app, "PasswordResetRequested", "nobody@example.com")
        stored = await app.state.runtime.db["account_tokens"].find().to_list()
        assert all(sent[0]["token"] not in str(row) for row in stored)
        expires = datetime.fromisoformat(sent[0]["expires_at"])
        assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)


async def test_reset_sets_the_password_once_and_signs_out_every_login(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        first = await _register_and_login(client, "grace@example.com")
        second = (
            await client.post(
                "/auth/login", json={"email": "grace@example.com", "password": STRONG}
            )
        ).json()
        await client.post("/auth/password/forgot", json={"email": "grace@example.com"})
        (mail,) = await _mailed(app, "PasswordResetRequested", "grace@example.com")

        weak = await client.post(
            "/auth/password/reset", json={"token": mail["token"], "new_password": "abcdefghijkl"}
        )
        assert weak.status_code == 422 and weak.json()["code"] == "validation_error"
        # a refused password leaves the link usable
        done = await client.post(
            "/auth/password/reset", json={"token": mail["token"], "new_password": NEW}
        )
        assert done.status_code == 204, done.text
        again = await client.post(
            "/auth/password/reset", json={"token": mail["token"], "new_password": NEW + "x"}
        )
        assert again.status_code == 400 and again.json()["code"] == "invalid_token"
        made_up = await client.post(
            "/auth/password/reset", json={"token": "made-up", "new_password": NEW}
        )
        assert made_up.status_code == 400 and made_up.json()["code"] == "invalid_token"

        for pair in (first, second):
            refused = await client.post(
                "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
            )
            assert refused.status_code == 401
        old = await client.post(
            "/auth/login", json={"email": "grace@example.com", "password": STRONG}
        )
        assert old.status_code == 401
        new = await client.post("/auth/login", json={"email": "grace@example.com", "password": NEW})
        assert new.status_code == 200


async def test_an_expired_reset_link_is_refused(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        await _register_and_login(client, "linus@example.com")
        await client.post("/auth/password/forgot", json={"email": "linus@example.com"})
        (mail,) = await _mailed(app, "PasswordResetRequested", "linus@example.com")
        await app.state.runtime.db["account_tokens"].update_many(
            {"purpose": "password_reset"},
            {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
        )
        late = await client.post(
            "/auth/password/reset", json={"token": mail["token"], "new_password": NEW}
        )
        assert late.status_code == 400 and late.json()["code"] == "invalid_token"
        still = await client.post(
            "/auth/login", json={"email": "linus@example.com", "password": STRONG}
        )
        assert still.status_code == 200


async def test_the_registration_mail_verifies_the_address_once(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        pair = await _register_and_login(client, "mary@example.com")
        me = (await client.get("/user/me", headers=_bearer(pair))).json()
        # unverified users may practise: the flag is all that differs
        assert me["email_verified"] is False
        (mail,) = await _mailed(app, "EmailVerificationRequested", "mary@example.com")
        expires = datetime.fromisoformat(mail["expires_at"])
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)

        bad = await client.post("/auth/verify-email", json={"token": "made-up"})
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_token"
        ok = await client.post("/auth/verify-email", json={"token": mail["token"]})
        assert ok.status_code == 204
        again = await client.post("/auth/verify-email", json={"token": mail["token"]})
        assert again.status_code == 400 and again.json()["code"] == "invalid_token"
        me = (await client.get("/user/me", headers=_bearer(pair))).json()
        assert me["email_verified"] is True
        # a verified address gets no new link
        await app.state.runtime.db["account_tokens"].update_many(
            {}, {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=5)}}
        )
        resent = await client.post("/auth/verify-email/resend", headers=_bearer(pair))
        assert resent.status_code == 204
        assert len(await _mailed(app, "EmailVerificationRequested", "mary@example.com")) == 1


async def test_resend_issues_a_new_link_at_most_once_a_minute_and_links_expire(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        pair = await _register_and_login(client, "alan@example.com")
        anonymous = await client.post("/auth/verify-email/resend")
        assert anonymous.status_code == 401
        too_soon = await client.post("/auth/verify-email/resend", headers=_bearer(pair))
        assert too_soon.status_code == 429 and int(too_soon.headers["retry-after"]) >= 1
        tokens = app.state.runtime.db["account_tokens"]
        await tokens.update_many(
            {}, {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=2)}}
        )
        resent = await client.post("/auth/verify-email/resend", headers=_bearer(pair))
        assert resent.status_code == 204
        first, second = await _mailed(app, "EmailVerificationRequested", "alan@example.com")
        assert first["token"] != second["token"]
        await tokens.update_one(
            {
                "purpose": "email_verification",
                "used_at": None,
                "created_at": {"$gt": datetime.now(UTC) - timedelta(minutes=1)},
            },
            {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
        )
        expired = await client.post("/auth/verify-email", json={"token": second["token"]})
        assert expired.status_code == 400
        # the older link is still within its day
        ok = await client.post("/auth/verify-email", json={"token": first["token"]})
        assert ok.status_code == 204
        me = (await client.get("/user/me", headers=_bearer(pair))).json()
        assert me["email_verified"] is True


async def test_a_reset_request_answered_then_left_by_a_stopped_process_is_still_mailed_once(
    isolation: dict[str, Any],
) -> None:
    settings = Settings(**isolation, reset_request_grace_seconds=0, reset_request_sweep_seconds=0.2)
    app = create_app(settings)
    async with running(app) as client:
        await _register_and_login(client, "alan@example.com")
        accounts = app.state.accounts
        # what the route writes before answering; the process "stops" before handling it
        request_id = await accounts.request_password_reset(" Alan@example.com", "corr-1")

        async def mailed_once() -> bool:
            left = await app.state.runtime.db["password_reset_requests"].count_documents({})
            return (
                left == 0
                and len(await _mailed(app, "PasswordResetRequested", "alan@example.com")) == 1
            )

        await eventually(mailed_once, message="the sweep handled the request")
        # handled again (a second replica's sweep, a retried task): nothing more is mailed
        await asyncio.gather(*(accounts.handle_reset_request(request_id) for _ in range(3)))
        assert len(await _mailed(app, "PasswordResetRequested", "alan@example.com")) == 1
        tokens = await app.state.runtime.db["account_tokens"].count_documents(
            {"purpose": "password_reset"}
        )
        assert tokens == 1
