"""auth's consumers: plan changes from billing, for `GET /user/me`, a map from event to use
case."""

from __future__ import annotations

from contracts import EventEnvelope, PlanDowngraded, PlanUpgraded
from servicekit.handlers import consume_idempotent
from servicekit.plans import PlanProjection
from servicekit.runtime import ServiceRuntime


def register_consumers(rt: ServiceRuntime) -> None:
    async def record_plan(event: PlanUpgraded | PlanDowngraded, envelope: EventEnvelope) -> None:
        await PlanProjection(rt.db).record(event)

    # one idempotent write (PlanProjection.record): no inbox row, no transaction
    consume_idempotent(rt, {PlanUpgraded: record_plan, PlanDowngraded: record_plan})
