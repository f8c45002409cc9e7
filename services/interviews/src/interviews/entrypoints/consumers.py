"""interviews' consumers: the AI runner's progress and billing's plan changes."""

from __future__ import annotations

from servicekit.runtime import ServiceRuntime

from interviews.app.sessions import Interviews


def register_consumers(rt: ServiceRuntime, interviews: Interviews) -> None:
    for event_type in ("SessionReady", "SessionScored", "SessionFailed"):
        rt.consumer(event_type)(interviews.on_event)
    for event_type in ("PlanUpgraded", "PlanDowngraded"):
        rt.stateless_consumer(event_type)(interviews.on_plan_changed)
