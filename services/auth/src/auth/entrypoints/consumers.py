"""auth's consumers: plan changes from billing, for `GET /user/me`."""

from __future__ import annotations

from contracts import DomainEvent, EventEnvelope, PlanDowngraded, PlanUpgraded
from servicekit.plans import PlanProjection
from servicekit.runtime import ServiceRuntime


def register_consumers(rt: ServiceRuntime) -> None:
    async def record_plan(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, PlanUpgraded | PlanDowngraded)
        await PlanProjection(rt.db).record(event)

    # one idempotent write (PlanProjection.record): no inbox row, no transaction
    rt.stateless_consumer("PlanUpgraded")(record_plan)
    rt.stateless_consumer("PlanDowngraded")(record_plan)
