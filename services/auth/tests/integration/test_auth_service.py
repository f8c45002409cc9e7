"""auth in-process against the real Mongo-wire server and RabbitMQ."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
from auth.adapters.users_view import UsersView
from auth.domain.user import User
from auth.main import create_app
from auth.settings import Settings
from servicekit.eventstore import rebuild
from servicekit.testing import running

STRONG = "Correct-horse-42"


async def register(
    client: httpx.AsyncClient, email: str, name: str = "Ada Lovelace"
) -> httpx.Response:
    return await client.post(
        "/auth/register", json={"name": name, "email": email, "password": STRONG}
    )


async def test_register_normalises_email_and_hides_the_hash(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        response = await register(client, "  Ada@Example.COM ")
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "ada@example.com"
        assert body["role"] == "user"
        assert not any("hash" in k or "password" in k for k in body)
        again = await register(client, "ada@example.com")
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["code"] == "email_taken"
        rt = app.state.runtime
        assert await rt.db["users"].count_documents({}) == 1
        # the event went through the outbox with the request's correlation id
        outbox = await rt.db["outbox"].find_one({"event_type": "UserRegistered"})
        assert outbox["envelope"]["correlation_id"] == response.headers["x-correlation-id"]


async def test_weak_or_invalid_registrations_get_422_with_the_field(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        cases = {
            "short": {"name": "Bo", "email": "bo@example.com", "password": "Ab1!"},
            "one-class": {"name": "Bo", "email": "bo@example.com", "password": "abcdefghijkl"},
            "contains-email": {
                "name": "Bo",
                "email": "bobby@example.com",
                "password": "bobby-123456",
            },
            "bad-email": {"name": "Bo", "email": "not-an-email", "password": STRONG},
            "blank-name": {"name": "   ", "email": "bo@example.com", "password": STRONG},
            "missing-field": {"email": "bo@example.com", "password": STRONG},
        }
        for label, body in cases.items():
            response = await client.post("/auth/register", json=body)
            assert response.status_code == 422, label
            problem = response.json()
            assert problem["code"] == "validation_error", label
            assert problem["detail"], label
        assert await app.state.runtime.db["users"].count_documents({}) == 0


async def test_login_issues_a_pinned_eddsa_token_and_refuses_wrong_passwords_alike(
    isolation: dict[str, Any],
) -> None:
    settings = Settings(**isolation)
    app = create_app(settings)
    async with running(app) as client:
        await register(client, "grace@example.com", "Grace Hopper")
        ok = await client.post(
            "/auth/login", json={"email": "GRACE@example.com", "password": STRONG}
        )
        assert ok.status_code == 200
        token = ok.json()["access_token"]
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA" and header["kid"] == app.state.accounts.signer.active.kid
        jwks = (await client.get("/internal/jwks.json")).json()
        key = jwt.PyJWK(jwks["keys"][0]).key
        claims = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        assert claims["exp"] - claims["iat"] == settings.jwt_access_ttl_seconds
        me = await client.get("/user/me", headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == "grace@example.com"

        wrong = await client.post(
            "/auth/login", json={"email": "grace@example.com", "password": "nope-nope-1"}
        )
        unknown = await client.post(
            "/auth/login", json={"email": "nobody@example.com", "password": STRONG}
        )
        for response in (wrong, unknown):
            assert response.status_code == 401
            assert response.json()["code"] == "invalid_credentials"
        assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_hs256_token_signed_with_the_public_key_is_refused(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        response = await register(client, "mallory@example.com", "Mallory")
        jwks = (await client.get("/internal/jwks.json")).json()
        forged = jwt.encode(
            {
                "sub": response.json()["id"],
                "role": "admin",
                "iss": "mock-interview-auth",
                "aud": "mock-interview",
                "iat": 1,
                "nbf": 1,
                "exp": 4_000_000_000,
            },
            jwks["keys"][0]["x"],
            algorithm="HS256",
            headers={"kid": jwks["keys"][0]["kid"]},
        )
        for token in (forged, "not.a.token", ""):
            me = await client.get("/user/me", headers={"authorization": f"Bearer {token}"})
            assert me.status_code == 401
            assert me.json()["code"] == "invalid_token"


async def test_users_projection_dropped_and_rebuilt_from_the_stream_equals_the_live_one(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        for i in range(4):
            assert (await register(client, f"user{i}@example.com", f"User {i}")).status_code == 201
        rt = app.state.runtime
        view = UsersView(rt.db)
        live = await view.collection.find().sort("_id").to_list()
        assert len(live) == 4
        # two events each: registered, and the verification mail asked for
        assert await rebuild(view, rt.store, User.aggregate_type) == 8
        assert await view.collection.find().sort("_id").to_list() == live
        # the unique email index is back too
        assert (await register(client, "user0@example.com")).status_code == 409


async def test_a_refresh_token_used_twice_at_once_is_spent_once_and_the_reuse_signs_out(
    isolation: dict[str, Any],
) -> None:
    import asyncio

    app = create_app(Settings(**isolation))
    async with running(app) as client:
        await register(client, "ada@example.com")
        pair = (
            await client.post("/auth/login", json={"email": "ada@example.com", "password": STRONG})
        ).json()
        answers = await asyncio.gather(
            *(
                client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
                for _ in range(8)
            )
        )
        codes = sorted(a.status_code for a in answers)
        # the token is spent once: at most one successor. Which comes first, the winner's
        # family check or a loser's revocation, is a race; either way the login ends
        # signed out (a winner that lost the race gets 401 invalid_token)
        assert codes in ([200] + [401] * 7, [401] * 8), codes
        reused = [a.json()["code"] for a in answers if a.status_code == 401]
        assert reused.count("refresh_token_reused") >= 7, reused
        # the reuse revoked the family: the one successor, if any, is signed out too
        for successor in (a.json()["refresh_token"] for a in answers if a.status_code == 200):
            again = await client.post("/auth/refresh", json={"refresh_token": successor})
            assert again.status_code == 401


async def test_look_alike_and_invisible_identities_are_refused(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        refused = {
            "zero-width in email": ("Ada", "ad\u200bmin@example.com"),
            "NUL in email": ("Ada", "ad\x00min@example.com"),
            "bidi override in name": ("Ada\u202egnp.exe", "bidi@example.com"),
            "zero-width in name": ("Ad\u200da", "zwj@example.com"),
            "control in name": ("Ada\x07", "bell@example.com"),
            "mixed scripts (Cyrillic a)": ("Ada", "\u0430dmin@example.com"),
            "all-Cyrillic look-alike": ("Ada", "\u0440\u0430\u0443\u0440\u0430\u04cf@example.com"),
        }
        for label, (name, email) in refused.items():
            response = await client.post(
                "/auth/register", json={"name": name, "email": email, "password": STRONG}
            )
            assert response.status_code == 422, (label, response.text)
            assert response.json()["code"] == "validation_error", label
        assert await app.state.runtime.db["users"].count_documents({}) == 0
        # real names and addresses in other scripts still work
        for name, email in (("José Müller", "jose@example.com"), ("Ольга", "ольга@example.com")):
            response = await client.post(
                "/auth/register", json={"name": name, "email": email, "password": STRONG}
            )
            assert response.status_code == 201, (name, response.text)
        # a fullwidth spelling is the same address, not a second account
        fullwidth = "\uff4a\uff4f\uff53\uff45@example.com"
        again = await client.post(
            "/auth/register", json={"name": "Jose", "email": fullwidth, "password": STRONG}
        )
        assert again.status_code == 409


async def test_admin_emails_grant_nothing_at_registration_or_start(
    isolation: dict[str, Any],
) -> None:
    """Whoever registers an ADMIN_EMAILS address first has not proved they own it: the role
    comes only from an operator (`make admin`)."""
    settings = Settings(**isolation, admin_emails="root@example.com")
    app = create_app(settings)
    async with running(app) as client:
        squatter = await client.post(
            "/auth/register",
            json={
                "name": "Root",
                "email": "\uff52\uff4f\uff4f\uff54@example.com",
                "password": STRONG,
            },
        )
        assert squatter.status_code == 201 and squatter.json()["role"] == "user"
        assert squatter.json()["email"] == "root@example.com"
    async with running(create_app(settings)) as client:  # a restart promotes nobody either
        login = await client.post(
            "/auth/login", json={"email": "root@example.com", "password": STRONG}
        )
        claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
        assert claims["role"] == "user"


async def test_a_short_name_does_not_forbid_its_letters_in_passwords(
    isolation: dict[str, Any],
) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        short = await client.post(
            "/auth/register", json={"name": "R", "email": "r@example.com", "password": STRONG}
        )
        assert short.status_code == 201, short.text
        long = await client.post(
            "/auth/register",
            json={"name": "Grace Hopper", "email": "gh@example.com", "password": "hopper-Rocks-1"},
        )
        assert long.status_code == 422 and "name" in long.json()["detail"]


async def test_a_user_renames_themselves_and_bad_names_are_422(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        await register(client, "ren@example.com", "Ada Lovelace")
        token = (
            await client.post("/auth/login", json={"email": "ren@example.com", "password": STRONG})
        ).json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        renamed = await client.patch("/user/me", json={"name": "  Ada   King "}, headers=auth)
        assert renamed.status_code == 200 and renamed.json()["name"] == "Ada King"
        assert (await client.get("/user/me", headers=auth)).json()["name"] == "Ada King"
        for bad in ({"name": ""}, {"name": "x" * 101}, {"name": "Ada\u202e"}, {"nick": "A"}):
            response = await client.patch("/user/me", json=bad, headers=auth)
            assert response.status_code == 422, bad
            assert response.json()["code"] == "validation_error"
        assert (await client.patch("/user/me", json={"name": "Eve"})).status_code == 401
        # the view rebuilt from the stream has the new name
        rt = app.state.runtime
        view = UsersView(rt.db)
        await rebuild(view, rt.store, User.aggregate_type)
        assert (await view.collection.find_one({"email": "ren@example.com"}))["name"] == "Ada King"


async def test_changing_the_password_signs_out_every_other_login(isolation: dict[str, Any]) -> None:
    app = create_app(Settings(**isolation))
    async with running(app) as client:
        await register(client, "pw@example.com")
        creds = {"email": "pw@example.com", "password": STRONG}
        here = (await client.post("/auth/login", json=creds)).json()
        elsewhere = (await client.post("/auth/login", json=creds)).json()
        auth = {"authorization": f"Bearer {here['access_token']}"}
        new = "Battery-staple-77"

        wrong = await client.post(
            "/auth/password",
            json={"current_password": "Not-it-12345", "new_password": new},
            headers=auth,
        )
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
        weak = await client.post(
            "/auth/password",
            json={"current_password": STRONG, "new_password": "aaaaaaaaaaaa"},
            headers=auth,
        )
        assert weak.status_code == 422 and weak.json()["code"] == "validation_error"
        same = await client.post(
            "/auth/password",
            json={"current_password": STRONG, "new_password": STRONG},
            headers=auth,
        )
        assert same.status_code == 422

        changed = await client.post(
            "/auth/password", json={"current_password": STRONG, "new_password": new}, headers=auth
        )
        assert changed.status_code == 204, changed.text
        old = await client.post("/auth/login", json=creds)
        assert old.status_code == 401
        assert (
            await client.post("/auth/login", json={"email": "pw@example.com", "password": new})
        ).status_code == 200
        # the other login is signed out; this one keeps working
        other = await client.post(
            "/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}
        )
        assert other.status_code == 401
        mine = await client.post("/auth/refresh", json={"refresh_token": here["refresh_token"]})
        assert mine.status_code == 200, mine.text
