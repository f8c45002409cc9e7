"""notifications' event consumers: each records what to mail in its inbox transaction."""

from __future__ import annotations

import asyncio

from contracts import (
    DomainEvent,
    EventEnvelope,
    SessionFailed,
    SessionScored,
    UserDeleted,
    UserRegistered,
)
from contracts.events import EmailVerificationRequested, PasswordResetRequested
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime

from notifications.app.notifications import MailSender, Notifications


def register_consumers(
    rt: ServiceRuntime, notifications: Notifications, sender: MailSender
) -> None:
    def wake_sender() -> None:
        # the handler runs inside the inbox transaction: wake the sender just after the
        # commit rather than wait for its next poll
        asyncio.get_running_loop().call_later(0.05, sender.notify)

    @rt.consumer("UserRegistered")
    async def welcome(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, UserRegistered)
        await notifications.user_registered(event, envelope, session)
        wake_sender()

    @rt.consumer("UserDeleted")
    async def forget(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, UserDeleted)
        await notifications.user_deleted(event, envelope, session)

    @rt.consumer("SessionScored")
    async def report_ready(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, SessionScored)
        await notifications.session_scored(event, envelope, session)
        wake_sender()

    @rt.consumer("SessionFailed")
    async def session_failed(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, SessionFailed)
        await notifications.session_failed(event, envelope, session)
        wake_sender()

    @rt.consumer("PasswordResetRequested")
    async def password_reset(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, PasswordResetRequested)
        await notifications.password_reset_requested(event, envelope, session)
        wake_sender()

    @rt.consumer("EmailVerificationRequested")
    async def verify_email(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, EmailVerificationRequested)
        await notifications.email_verification_requested(event, envelope, session)
        wake_sender()
