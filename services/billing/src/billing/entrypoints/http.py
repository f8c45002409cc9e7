"""billing's HTTP API (through the gateway)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from servicekit.identity import CurrentUser

router = APIRouter()


@router.get("/billing/subscription")
async def subscription(principal: CurrentUser, request: Request) -> dict[str, Any]:
    rt = request.app.state.runtime
    doc = await rt.db["subscriptions"].find_one({"_id": principal.user_id})
    if doc is None:
        # UserRegistered not consumed yet: the user is on the free plan all the same
        return {
            "plan": "free",
            "status": "pending",
            "weekly_limit": rt.settings.free_weekly_limit,
            "current_period_end": None,
            "cancel_at_period_end": False,
        }
    return {
        "plan": doc["plan"],
        "status": doc["status"],
        "weekly_limit": doc["weekly_limit"],
        "current_period_end": doc["current_period_end"],
        "cancel_at_period_end": doc["cancel_at_period_end"],
    }
