"""billing's event consumers."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import DomainEvent, EventEnvelope, UserRegistered
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime

from billing.adapters.subscriptions import Subscriptions
from billing.settings import Settings


def register_consumers(rt: ServiceRuntime, settings: Settings) -> None:
    @rt.consumer("UserRegistered")
    async def open_free_subscription(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, UserRegistered)
        await Subscriptions(rt.db).create_free(
            event.user_id, settings.free_weekly_limit, datetime.now(UTC), session
        )
