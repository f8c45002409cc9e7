"""interviews' consumers: the AI runner's progress (in the inbox transaction) and billing's
plan changes (one idempotent write), each a map from event to use case."""

from __future__ import annotations

from contracts import PlanDowngraded, PlanUpgraded, SessionFailed, SessionReady, SessionScored
from servicekit.handlers import consume_idempotent, consume_in_transaction
from servicekit.runtime import ServiceRuntime

from interviews.app.sessions import Interviews


def register_consumers(rt: ServiceRuntime, interviews: Interviews) -> None:
    consume_in_transaction(
        rt,
        {
            SessionReady: interviews.session_ready,
            SessionScored: interviews.session_scored,
            SessionFailed: interviews.session_failed,
        },
    )
    consume_idempotent(
        rt, {PlanUpgraded: interviews.plan_changed, PlanDowngraded: interviews.plan_changed}
    )
