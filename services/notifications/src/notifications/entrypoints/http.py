"""notifications' HTTP API (through the gateway): the signed-in user's mail preferences and
the signed-out one-click unsubscribe of a mail's link."""

from __future__ import annotations

from typing import Annotated

from contracts.api import (
    NotificationPreferences,
    NotificationPreferencesUpdate,
    Unsubscribe,
    Unsubscribed,
)
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from servicekit.identity import CurrentUser

from notifications.app.preferences import InvalidUnsubscribeToken, MailPreferences

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


def _preferences(request: Request) -> MailPreferences:
    preferences: MailPreferences = request.app.state.preferences
    return preferences


@router.get("/user/me/notifications", response_model=NotificationPreferences)
async def my_preferences(principal: CurrentUser, request: Request) -> JSONResponse:
    body = await _preferences(request).of(principal.user_id)
    return JSONResponse(body, headers=NO_STORE)


@router.put("/user/me/notifications", response_model=NotificationPreferences)
async def change_preferences(
    body: NotificationPreferencesUpdate, principal: CurrentUser, request: Request
) -> JSONResponse:
    changes = body.model_dump(exclude_none=True)
    answer = await _preferences(request).change(principal.user_id, changes)
    return JSONResponse(answer, headers=NO_STORE)


@router.post("/notifications/unsubscribe", response_model=Unsubscribed)
async def unsubscribe(
    request: Request,
    token: Annotated[str | None, Query(max_length=400)] = None,
) -> Unsubscribed:
    """One-click unsubscribe (RFC 8058): a mail client POSTs `List-Unsubscribe=One-Click` as
    a form to the link (token in the query); the web page POSTs `{"token": ...}` as JSON."""
    if token is None and request.headers.get("content-type", "").startswith("application/json"):
        try:
            token = Unsubscribe.model_validate_json(await request.body()).token
        except ValidationError:
            token = None
    if not token:
        raise InvalidUnsubscribeToken("The unsubscribe link has no token.")
    preferences = _preferences(request)
    kinds = await preferences.unsubscribe(token)
    return Unsubscribed(kinds=kinds, detail=preferences.describe(kinds))
