"""auth's consumers: plan changes from billing, for `GET /user/me`."""

from __future__ import annotations

from contracts import DomainEvent, EventEnvelope, PlanDowngraded, PlanUpgraded
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime

from auth.adapters.plans import Plans


def register_consumers(rt: ServiceRuntime) -> None:
    async def record_plan(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, PlanUpgraded | PlanDowngraded)
        await Plans(rt.db).record(
            event.user_id, event.plan, event.weekly_limit, event.effective_at, session
        )

    rt.consumer("PlanUpgraded")(record_plan)
    rt.consumer("PlanDowngraded")(record_plan)
