"""What mail each event asks for, and the sender loop that delivers it.

A consumer only records the mail (in its inbox transaction), so a redelivered event or a
second replica finds the row and adds nothing: one mail per (event, purpose). The sender
claims due mail with a lease, sends it, and marks it sent; a dead SMTP server loses nothing
(retried with backoff and jitter, parked with the reason after `mail_max_attempts`), and a
5xx refusal of an address marks it so nothing more is sent there.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from contracts import (
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
from prometheus_client import Counter
from servicekit.logs import get_logger
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession, Document, set_origin

from notifications.app.ports import Composer, DeliveryStore, Mailer, RecipientStore
from notifications.domain.kinds import allows, preference_of
from notifications.domain.mail import (
    CANCELLED,
    PARKED,
    SUPPRESSED,
    MessageRejected,
    PermanentRejection,
    Recipient,
    TransientFailure,
)
from notifications.settings import Settings

log = get_logger(__name__)

MAIL_SENT = Counter(
    "notifications_mail_sent_total", "Mails the SMTP server accepted.", ["kind"], registry=REGISTRY
)
MAIL_FAILED = Counter(
    "notifications_mail_failed_total",
    "Delivery attempts that failed (retried until parked).",
    ["kind"],
    registry=REGISTRY,
)
MAIL_PARKED = Counter(
    "notifications_mail_parked_total",
    "Mails given up on, with the reason stored on the delivery.",
    ["kind"],
    registry=REGISTRY,
)

MAIL_SUPPRESSED = Counter(
    "notifications_mail_suppressed_total",
    "Mails not sent on purpose: the user turned the kind off, or the address was refused "
    "for good before.",
    ["kind", "reason"],
    registry=REGISTRY,
)


def prime_mail_metrics(kinds: list[str]) -> None:
    """Export every kind's counters at 0 from the start: the MailParked alert takes
    increase(), which cannot see the first increment of a series that starts at 1."""
    for kind in kinds:
        for counter in (MAIL_SENT, MAIL_FAILED, MAIL_PARKED):
            counter.labels(kind)


STAGE_WORDS = {"preparing": "prepared", "scoring": "scored", "deadline": "finished"}
DOWNGRADE_WORDS = {
    "canceled": "your subscription has ended",
    "payment_failed": "the payment for your subscription could not be taken",
}


def long_date(moment: datetime) -> str:
    """'Monday 7 December 2026, 00:00 UTC': unambiguous in any reader's locale."""
    moment = moment.astimezone(UTC)
    return f"{moment:%A} {moment.day} {moment:%B %Y, %H:%M} UTC"


def money(minor_units: int, currency: str) -> str:
    return f"{minor_units / 100:.2f} {currency.upper()}"


def week_resets_at(iso_week: str) -> datetime:
    """The Monday 00:00 UTC after the ISO week `YYYY-Www`."""
    year, week = iso_week.split("-W")
    monday = datetime.fromisocalendar(int(year), int(week), 1).replace(tzinfo=UTC)
    return monday + timedelta(days=7)


class Notifications:
    """The consumers' side: remember addresses, request mail, forget users."""

    recipients: RecipientStore
    deliveries: DeliveryStore

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def web(self) -> str:
        """The web app's base URL, for the links in the mail."""
        return self.settings.web_base_url.rstrip("/")

    def bind(self, recipients: RecipientStore, deliveries: DeliveryStore) -> None:
        """The collections, once the lifespan has connected to Mongo."""
        self.recipients = recipients
        self.deliveries = deliveries

    async def user_registered(
        self, event: UserRegistered, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        if await self.recipients.remember(event.user_id, event.name, event.email, session):
            await self.deliveries.request(
                str(envelope.event_id), "welcome", event.user_id, {}, session
            )

    async def user_deleted(
        self, event: UserDeleted, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        await self.recipients.forget(event.user_id, session)
        await self.deliveries.cancel_for_user(event.user_id, session)

    async def session_scored(
        self, event: SessionScored, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        context = {
            "session_id": event.session_id,
            "score": event.overall_score,
            "summary": event.summary,
            "insufficient_answers": event.insufficient_answers,
            "report_url": f"{self.web}/report/{event.session_id}",
        }
        await self.deliveries.request(
            str(envelope.event_id), "report_ready", event.user_id, context, session
        )

    async def password_reset_requested(
        self, event: PasswordResetRequested, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        await self._account_security(
            event, envelope, session, "password_reset", "reset-password", minutes=True
        )

    async def email_verification_requested(
        self,
        event: EmailVerificationRequested,
        envelope: EventEnvelope,
        session: AsyncClientSession,
    ) -> None:
        await self._account_security(
            event, envelope, session, "verify_email", "verify-email", minutes=False
        )

    async def _account_security(
        self,
        event: PasswordResetRequested | EmailVerificationRequested,
        envelope: EventEnvelope,
        session: AsyncClientSession,
        purpose: str,
        page: str,
        minutes: bool,
    ) -> None:
        """Account-security mail: always sent (preferences do not apply, no unsubscribe link),
        to the address the token was issued for. The event carries the name and address, so
        it need not wait for UserRegistered; a deleted account's tombstone still wins (the
        mail is recorded and the sender cancels it, as for any other kind)."""
        await self.recipients.remember(event.user_id, event.name, event.email, session)
        valid = event.expires_at - envelope.occurred_at
        context = {
            # the plain token stays in the delivery row until sent: it is what the link needs
            "link": f"{self.web}/{page}?{urlencode({'token': event.token})}",
            "valid_for": f"{round(valid.total_seconds() / 60)} minutes"
            if minutes
            else f"{round(valid.total_seconds() / 3600)} hours",
        }
        await self.deliveries.request(
            str(envelope.event_id), purpose, event.user_id, context, session
        )

    async def session_failed(
        self, event: SessionFailed, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        context = {
            "session_id": event.session_id,
            "reason": event.reason,
            "stage": event.stage,
            "what": STAGE_WORDS.get(event.stage, "finished"),
            "credit_returned": True,
        }
        await self.deliveries.request(
            str(envelope.event_id), "session_failed", event.user_id, context, session
        )

    async def session_requested(
        self, event: SessionRequested, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        """The session that used the week's last interview: one mail per user and week (the
        key is the week, not the event, so a credit given back and used again mails
        nothing more)."""
        if event.quota_used is None or event.weekly_limit is None:
            return
        if event.quota_used < event.weekly_limit:
            return
        context = {
            "weekly_limit": event.weekly_limit,
            "plan": event.plan or "free",
            "resets_at": long_date(week_resets_at(event.quota_week)),
            "upgrade_url": f"{self.web}/billing" if (event.plan or "free") == "free" else None,
        }
        await self.deliveries.request(
            f"quota:{event.user_id}:{event.quota_week}",
            "quota_reached",
            event.user_id,
            context,
            session,
        )

    async def plan_upgraded(
        self, event: PlanUpgraded, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        price = (
            money(event.monthly_price, event.currency)
            if event.monthly_price is not None and event.currency
            else None
        )
        context = {
            "plan": event.plan,
            "weekly_limit": event.weekly_limit,
            "price": price,
            "effective_at": long_date(event.effective_at),
            "renews_at": long_date(event.current_period_end) if event.current_period_end else None,
            "billing_url": f"{self.web}/billing",
        }
        await self.deliveries.request(
            str(envelope.event_id), "plan_upgraded", event.user_id, context, session
        )

    async def payment_failed(
        self, event: PaymentFailed, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        context = {
            "amount": money(event.amount, event.currency),
            "attempt": event.attempt,
            "grace_until": long_date(event.grace_until) if event.grace_until else None,
            "billing_url": f"{self.web}/billing",
        }
        await self.deliveries.request(
            str(envelope.event_id), "payment_failed", event.user_id, context, session
        )

    async def plan_downgraded(
        self, event: PlanDowngraded, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        if event.reason == "deleted":
            return  # the account is being closed: UserDeleted forgets the address
        context = {
            "from_plan": event.from_plan,
            "plan": event.plan,
            "weekly_limit": event.weekly_limit,
            "why": DOWNGRADE_WORDS.get(event.reason, "your subscription has ended"),
            "effective_at": long_date(event.effective_at),
            "billing_url": f"{self.web}/billing",
        }
        await self.deliveries.request(
            str(envelope.event_id), "plan_downgraded", event.user_id, context, session
        )


class MailSender:
    """Delivers due mail, one at a time per process, until stopped."""

    deliveries: DeliveryStore
    recipients: RecipientStore

    def __init__(self, composer: Composer, mailer: Mailer, settings: Settings) -> None:
        self.composer = composer
        self.mailer = mailer
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    def bind(self, deliveries: DeliveryStore, recipients: RecipientStore) -> None:
        self.deliveries = deliveries
        self.recipients = recipients

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="mail-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        set_origin("mail")
        while True:
            handled = 0
            try:
                handled = await self.deliver_due()
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Mongo away: the mail waits in its row
                self.last_error = repr(exc)
                log.warning("mail.sender_error", error=repr(exc))
            if handled == 0:
                try:
                    await asyncio.wait_for(
                        self._wake.wait(), timeout=self.settings.mail_poll_seconds
                    )
                except TimeoutError:
                    pass
                self._wake.clear()

    async def deliver_due(self, limit: int = 50) -> int:
        count = 0
        while count < limit:
            doc = await self.deliveries.claim(self.settings.mail_lease_seconds)
            if doc is None:
                break
            await self.deliver(doc)
            count += 1
        return count

    def backoff(self, attempts: int) -> float:
        s = self.settings
        delay = min(s.mail_retry_max_seconds, s.mail_retry_base_seconds * 2.0 ** (attempts - 1))
        return delay * random.uniform(0.8, 1.2)

    async def deliver(self, doc: Document) -> None:
        kind: str = doc["purpose"]
        now = datetime.now(UTC)
        user = await self.recipients.find(doc["user_id"])
        if user is None or (not user.get("deleted") and "email" not in user):
            # the address comes with UserRegistered, which may still be on its way (a row
            # without one holds preferences set before it came)
            age = (now - doc["created_at"]).total_seconds()
            if age > self.settings.mail_address_wait_seconds:
                await self._park(doc, kind, "no address known for the user", count=False)
            else:
                wait = min(self.settings.mail_retry_base_seconds, 5.0)
                await self.deliveries.retry(
                    doc, "waiting for the user's address", now + timedelta(seconds=wait), False
                )
            return
        if user.get("deleted"):
            await self.deliveries.finish(doc, CANCELLED, "account deleted", count=False)
            return
        if not allows(user.get("preferences"), kind):
            if await self.deliveries.finish(
                doc, SUPPRESSED, f"the user turned off {preference_of(kind)} mail", count=False
            ):
                MAIL_SUPPRESSED.labels(kind, "unsubscribed").inc()
            return
        if user.get("undeliverable"):
            if await self.deliveries.finish(
                doc, SUPPRESSED, f"address refused before: {user['undeliverable']}", count=False
            ):
                MAIL_SUPPRESSED.labels(kind, "undeliverable").inc()
            return

        to = Recipient(doc["user_id"], user["name"], user["email"])
        context: dict[str, Any] = dict(doc.get("context") or {})
        try:
            message = self.composer.compose(doc["_id"], kind, to, context)
        except Exception as exc:  # a template bug: retrying would not help
            log.exception("mail.render_failed", kind=kind, delivery=doc["_id"])
            await self._park(doc, kind, f"could not render the mail: {exc!r}")
            return
        try:
            await self.mailer.send(message)
        except PermanentRejection as exc:
            MAIL_FAILED.labels(kind).inc()
            await self.recipients.mark_undeliverable(to.user_id, to.email, str(exc))
            await self._park(doc, kind, f"address refused: {exc}")
            return
        except MessageRejected as exc:
            MAIL_FAILED.labels(kind).inc()
            await self._park(doc, kind, f"message refused: {exc}")
            return
        except TransientFailure as exc:
            MAIL_FAILED.labels(kind).inc()
            attempts = int(doc.get("attempts", 0)) + 1
            if attempts >= self.settings.mail_max_attempts:
                await self._park(doc, kind, f"gave up after {attempts} attempts: {exc}")
            else:
                at = now + timedelta(seconds=self.backoff(attempts))
                await self.deliveries.retry(doc, str(exc), at)
                log.info("mail.retry", kind=kind, delivery=doc["_id"], attempts=attempts)
            return
        if await self.deliveries.sent(doc, to.email):
            MAIL_SENT.labels(kind).inc()
            log.info("mail.sent", kind=kind, delivery=doc["_id"])
        else:  # our lease ran out mid-send and another replica took the mail over
            log.warning("mail.lease_lost", kind=kind, delivery=doc["_id"])

    async def _park(self, doc: Document, kind: str, reason: str, count: bool = True) -> None:
        if await self.deliveries.finish(doc, PARKED, reason, count=count):
            MAIL_PARKED.labels(kind).inc()
            log.warning("mail.parked", kind=kind, delivery=doc["_id"], reason=reason)
