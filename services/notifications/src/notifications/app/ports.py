"""What notifications' use cases need from the outside, as protocols: the adapters in
`notifications.adapters` fit them (`store.Recipients`, `store.Deliveries`,
`mailer.MailComposer`, `mailer.SmtpMailer`). Tests may hand in others."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from servicekit.mongo import AsyncClientSession, Document

from notifications.domain.mail import Recipient


class RecipientStore(Protocol):
    """Where each user's mail goes, and which kinds they want."""

    async def remember(
        self, user_id: str, name: str, email: str, session: AsyncClientSession
    ) -> bool: ...

    async def forget(self, user_id: str, session: AsyncClientSession) -> None: ...

    async def preferences(self, user_id: str) -> dict[str, Any] | None:
        """None for a user this service does not know or who deleted the account."""
        ...

    async def set_preferences(self, user_id: str, changes: dict[str, bool]) -> Document | None: ...

    async def find(self, user_id: str) -> Document | None: ...

    async def mark_undeliverable(self, user_id: str, email: str, reason: str) -> None: ...


class DeliveryStore(Protocol):
    """One row per mail and its delivery state; a claim leases a mail to this process."""

    async def request(
        self,
        event_id: str,
        purpose: str,
        user_id: str,
        context: dict[str, Any],
        session: AsyncClientSession,
    ) -> bool: ...

    async def cancel_for_user(self, user_id: str, session: AsyncClientSession) -> None: ...

    async def claim(self, lease_seconds: float) -> Document | None: ...

    async def sent(self, doc: Document, to: str) -> bool: ...

    async def retry(self, doc: Document, reason: str, at: datetime, count: bool = True) -> bool: ...

    async def finish(self, doc: Document, status: str, reason: str, count: bool = True) -> bool: ...


class Composer(Protocol):
    """Renders a kind of mail for a recipient."""

    def kinds(self) -> list[str]: ...

    def compose(
        self, delivery_id: str, kind: str, to: Recipient, context: dict[str, Any]
    ) -> EmailMessage: ...


class Mailer(Protocol):
    """Hands a message to the mail server; raises `domain.mail`'s TransientFailure,
    PermanentRejection or MessageRejected."""

    async def send(self, message: EmailMessage) -> None: ...
