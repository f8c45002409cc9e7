"""auth's HTTP API, reached through the gateway (SPEC.md section 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.api import (
    EmailVerification,
    LoginRequest,
    LogoutRequest,
    PasswordChange,
    PasswordForgot,
    PasswordReset,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
)
from contracts.calendar import week_resets_at
from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse
from servicekit.identity import CurrentUser, Forbidden
from servicekit.problems import DomainError

from auth.app.accounts import Accounts, TokenPair
from auth.domain.tokens import RefreshTokenInvalid

router = APIRouter()

COOKIE = "refresh_token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ACCOUNT_CHANGED = "X-Account-Changed"


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _public_user(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "email": doc["email"],
        "role": doc["role"],
        "created_at": doc["registered_at"].isoformat(),
        # unverified users may practise: the flag is informational, nothing is gated on it
        "email_verified": bool(doc.get("email_verified", False)),
    }


def _token_response(pair: TokenPair, request: Request) -> JSONResponse:
    response = JSONResponse(pair.body(), headers=NO_STORE)
    max_age = int((pair.refresh.expires_at - datetime.now(UTC)).total_seconds())
    response.set_cookie(
        COOKIE,
        pair.refresh.token,
        max_age=max_age,
        path="/auth",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/auth/register", status_code=201)
async def register(body: RegisterRequest, request: Request, response: Response) -> dict[str, Any]:
    doc = await _accounts(request).register(
        body.name, body.email, body.password, request.state.correlation_id
    )
    response.headers.update(NO_STORE)
    return _public_user(doc)


@router.post("/auth/login")
async def login(body: LoginRequest, request: Request) -> JSONResponse:
    pair = await _accounts(request).login(body.email, body.password)
    return _token_response(pair, request)


@router.post("/auth/refresh")
async def refresh(request: Request, body: RefreshRequest | None = None) -> JSONResponse:
    token = (body.refresh_token if body else None) or request.cookies.get(COOKIE)
    if not token:
        raise RefreshTokenInvalid("Send the refresh token in the body or the refresh_token cookie.")
    pair = await _accounts(request).refresh(token)
    return _token_response(pair, request)


@router.post("/auth/logout", status_code=204)
async def logout(
    principal: CurrentUser, request: Request, body: LogoutRequest | None = None
) -> Response:
    token = (body.refresh_token if body else None) or request.cookies.get(COOKIE)
    await _accounts(request).logout(principal.user_id, token, principal.session_id)
    response = Response(status_code=204, headers=NO_STORE)
    response.delete_cookie(COOKIE, path="/auth", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/user/me")
async def me(principal: CurrentUser, request: Request, response: Response) -> dict[str, Any]:
    doc, plan = await _accounts(request).profile(principal.user_id)
    weekly_limit = plan["weekly_limit"]
    response.headers.update(NO_STORE)
    return _public_user(doc) | {
        "plan": plan["plan"],
        # `used` comes from the interviews service's quota ledger once it exists
        "quota": {
            "weekly_limit": weekly_limit,
            "used": 0,
            "remaining": weekly_limit,
            "resets_at": week_resets_at(datetime.now(UTC)).isoformat(),
        },
    }


@router.patch("/user/me")
async def update_me(
    body: ProfileUpdate, principal: CurrentUser, request: Request, response: Response
) -> dict[str, Any]:
    doc = await _accounts(request).rename(
        principal.user_id, body.name, request.state.correlation_id
    )
    response.headers.update(NO_STORE)
    return _public_user(doc)


@router.post("/auth/password", status_code=204)
async def change_password(
    body: PasswordChange, principal: CurrentUser, request: Request
) -> Response:
    await _accounts(request).change_password(
        principal.user_id,
        principal.session_id,
        body.current_password,
        body.new_password,
        request.state.correlation_id,
    )
    return Response(status_code=204, headers=NO_STORE)


FORGOT_ANSWER = {"detail": "If an account has this address, a reset link is on its way."}


@router.post("/auth/password/forgot", status_code=202)
async def forgot_password(
    body: PasswordForgot, request: Request, response: Response, background: BackgroundTasks
) -> dict[str, Any]:
    # the same status, body and time whether or not the account exists: one write before
    # the answer; the lookup, the token and the mail after it (and again by the sweep if
    # this process stops before that)
    accounts = _accounts(request)
    request_id = await accounts.request_password_reset(body.email, request.state.correlation_id)
    background.add_task(accounts.handle_reset_request_quietly, request_id)
    response.headers.update(NO_STORE)
    return FORGOT_ANSWER


@router.post("/auth/password/reset", status_code=204)
async def reset_password(body: PasswordReset, request: Request) -> Response:
    await _accounts(request).reset_password(
        body.token, body.new_password, request.state.correlation_id
    )
    response = Response(status_code=204, headers=NO_STORE)
    # every login was signed out, this browser's included
    response.delete_cookie(COOKIE, path="/auth", secure=True, httponly=True, samesite="strict")
    return response


@router.post("/auth/verify-email", status_code=204)
async def verify_email(body: EmailVerification, request: Request) -> Response:
    user_id = await _accounts(request).verify_email(body.token, request.state.correlation_id)
    # the link may be opened without signing in: this header (taken off by the gateway)
    # names the account whose cached /user/me is stale now
    return Response(status_code=204, headers=NO_STORE | {ACCOUNT_CHANGED: user_id})


@router.post("/auth/verify-email/resend", status_code=204)
async def resend_verification(principal: CurrentUser, request: Request) -> Response:
    await _accounts(request).resend_verification(principal.user_id, request.state.correlation_id)
    return Response(status_code=204, headers=NO_STORE)


@router.delete("/user/me", status_code=204)
async def delete_me(principal: CurrentUser, request: Request) -> Response:
    await _accounts(request).delete(principal.user_id, request.state.correlation_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/auth", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/internal/jwks.json", include_in_schema=False)
async def jwks(request: Request) -> dict[str, Any]:
    return _accounts(request).signer.jwks()


@router.get("/internal/users/{user_id}", include_in_schema=False)
async def user_for_services(
    user_id: str, principal: CurrentUser, request: Request
) -> dict[str, Any]:
    if not principal.is_admin and principal.user_id != user_id:
        raise DomainError("Not yours.", status=404, code="not_found", title="Not found")
    doc = await _accounts(request).users.get(user_id)
    if doc is None:
        raise DomainError("No such user.", status=404, code="not_found", title="Not found")
    return _public_user(doc)


@router.get("/internal/stats", include_in_schema=False)
async def stats(principal: CurrentUser, request: Request) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Administrators only.")
    return await _accounts(request).users.counts()
