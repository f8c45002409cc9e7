"""notifications' event consumers: one map from event to use case; each records what to
mail in its inbox transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from contracts import (
    DomainEvent,
    EventEnvelope,
    PaymentFailed,
    PlanDowngraded,
    PlanUpgraded,
    SessionFailed,
    SessionRequested,
    SessionScored,
    UserDeleted,
    UserRegistered,
)
from contracts.events import EmailVerificationRequested, PasswordResetRequested
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import EventHandler, ServiceRuntime

from notifications.app.notifications import MailSender, Notifications

UseCase = Callable[[Any, EventEnvelope, AsyncClientSession], Awaitable[None]]


def handlers(notifications: Notifications) -> dict[type[DomainEvent], UseCase]:
    return {
        UserRegistered: notifications.user_registered,
        UserDeleted: notifications.user_deleted,
        SessionRequested: notifications.session_requested,
        SessionScored: notifications.session_scored,
        SessionFailed: notifications.session_failed,
        PasswordResetRequested: notifications.password_reset_requested,
        EmailVerificationRequested: notifications.email_verification_requested,
        PlanUpgraded: notifications.plan_upgraded,
        PaymentFailed: notifications.payment_failed,
        PlanDowngraded: notifications.plan_downgraded,
    }


def register_consumers(
    rt: ServiceRuntime, notifications: Notifications, sender: MailSender
) -> None:
    for event_type, use_case in handlers(notifications).items():
        rt.consumer(event_type.__name__)(_consumer(event_type, use_case, sender))


def _consumer(event_type: type[DomainEvent], use_case: UseCase, sender: MailSender) -> EventHandler:
    async def consume(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        if not isinstance(event, event_type):
            raise TypeError(f"{event_type.__name__} consumer got {type(event).__name__}")
        await use_case(event, envelope, session)
        # the handler runs inside the inbox transaction: wake the sender just after the
        # commit rather than wait for its next poll
        asyncio.get_running_loop().call_later(0.05, sender.notify)

    consume.__name__ = f"on_{event_type.__name__}"
    return consume
