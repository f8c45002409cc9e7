"""billing's event consumers."""

from __future__ import annotations

from contracts import DomainEvent, EventEnvelope, UserDeleted, UserRegistered
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime

from billing.app.billing import Billing


def register_consumers(rt: ServiceRuntime, billing: Billing) -> None:
    @rt.consumer("UserRegistered")
    async def open_free_subscription(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, UserRegistered)
        await billing.subscriptions.open(event.user_id, envelope, session)

    @rt.consumer("UserDeleted")
    async def cancel_deleted_users_subscriptions(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, UserDeleted)
        await billing.closure.close_account(event.user_id, envelope, session)
