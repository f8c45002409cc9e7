"""billing's event consumers."""

from __future__ import annotations

from contracts import DomainEvent, EventEnvelope, UserRegistered
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime

from billing.app.billing import Billing


def register_consumers(rt: ServiceRuntime, billing: Billing) -> None:
    @rt.consumer("UserRegistered")
    async def open_free_subscription(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, UserRegistered)
        await billing.open_subscription(event.user_id, envelope, session)
