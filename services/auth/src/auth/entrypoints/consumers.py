"""auth's consumers: plan changes from billing, for `GET /user/me`."""

from __future__ import annotations

from contracts import DomainEvent, EventEnvelope, PlanDowngraded, PlanUpgraded
from servicekit.runtime import ServiceRuntime

from auth.adapters.plans import Plans


def register_consumers(rt: ServiceRuntime) -> None:
    async def record_plan(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, PlanUpgraded | PlanDowngraded)
        await Plans(rt.db).record(event.user_id, event.plan, event.weekly_limit, event.effective_at)

    # one idempotent write (Plans.record): no inbox row, no transaction
    rt.stateless_consumer("PlanUpgraded")(record_plan)
    rt.stateless_consumer("PlanDowngraded")(record_plan)
