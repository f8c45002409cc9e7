"""auth's HTTP API (reached through the gateway): register, login, JWKS, me."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError
from servicekit.identity import CurrentUser
from servicekit.mongo import AsyncClientSession
from servicekit.problems import DomainError
from servicekit.runtime import ServiceRuntime

from auth.adapters.keys import KeyRing
from auth.adapters.passwords import hash_password, verify_password
from auth.adapters.users_view import UsersView
from auth.domain.user import EmailTaken, InvalidRegistration, User, check_password, normalise_email
from auth.settings import Settings

router = APIRouter()


class RegisterBody(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class LoginBody(BaseModel):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=128)]


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"
    title = "Email or password is wrong"


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _public_user(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "email": doc["email"],
        "role": doc["role"],
        "created_at": doc["registered_at"].isoformat(),
    }


@router.post("/auth/register", status_code=201)
async def register(body: RegisterBody, request: Request) -> dict[str, Any]:
    rt = _rt(request)
    settings: Settings = rt.settings  # type: ignore[assignment]
    email = normalise_email(body.email)
    check_password(body.password, email, body.name)
    password_hash = await hash_password(body.password)
    role = "admin" if email in settings.admins else "user"
    user_id = str(uuid.uuid4())
    view = UsersView(rt.db)
    from servicekit.eventstore import Repository

    repo = Repository(rt.store, User)

    async def work(session: AsyncClientSession) -> None:
        user = User.register(user_id, email, body.name, role, datetime.now(UTC))
        envelopes = await repo.save(user, session, correlation_id=request.state.correlation_id)
        for envelope in envelopes:
            await view.apply(envelope, session)
        await rt.db["credentials"].insert_one(
            {"_id": email, "user_id": user_id, "password_hash": password_hash}, session=session
        )

    try:
        await rt.command(work)
    except DuplicateKeyError as exc:
        raise EmailTaken("An account with this email already exists.") from exc
    doc = await view.get(user_id)
    assert doc is not None
    return _public_user(doc)


@router.post("/auth/login")
async def login(body: LoginBody, request: Request) -> dict[str, Any]:
    rt = _rt(request)
    settings: Settings = rt.settings  # type: ignore[assignment]
    try:
        email = normalise_email(body.email)
    except InvalidRegistration:
        email = None
    cred = await rt.db["credentials"].find_one({"_id": email}) if email else None
    if not await verify_password(cred["password_hash"] if cred else None, body.password):
        raise InvalidCredentials("Check the email and password and try again.")
    assert cred is not None
    user = await UsersView(rt.db).get(cred["user_id"])
    if user is None:
        raise InvalidCredentials("Check the email and password and try again.")
    keys: KeyRing = request.app.state.keys
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user["_id"],
        "role": user["role"],
        "email": user["email"],
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=settings.jwt_access_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        claims, keys.active.private, algorithm="EdDSA", headers={"kid": keys.active.kid}
    )
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": settings.jwt_access_ttl_seconds,
    }


@router.get("/internal/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    keys: KeyRing = request.app.state.keys
    return keys.jwks()


@router.get("/user/me")
async def me(principal: CurrentUser, request: Request) -> dict[str, Any]:
    settings = _rt(request).settings
    doc = await UsersView(_rt(request).db).get(principal.user_id)
    if doc is None:
        raise DomainError(
            "This account no longer exists.",
            status=401,
            code="invalid_token",
            title="Invalid or expired access token",
        )
    weekly_limit = getattr(settings, "free_weekly_limit", 2)
    return _public_user(doc) | {
        "plan": "free",
        "quota": {"weekly_limit": weekly_limit, "used": None, "remaining": None, "resets_at": None},
    }
