"""Stripe's webhooks: verified on the raw body, taken in once per Stripe event id (the id is
claimed in the same transaction as the effect), in Stripe's order rather than arrival order.
A closed account's late subscription is cancelled at once."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import stripe
from pymongo.errors import DuplicateKeyError
from servicekit.logs import get_logger
from servicekit.mongo import AsyncClientSession
from servicekit.problems import DomainError

from billing.adapters.stripe_events import MalformedEvent, parse
from billing.app.context import BillingContext
from billing.domain.subscription import Subscription

log = get_logger(__name__)

WebhookOutcome = Literal[
    "applied", "no_change", "duplicate", "ignored", "unmatched", "account_closed"
]


class InvalidWebhook(DomainError):
    status = 400
    code = "invalid_webhook"
    title = "Invalid webhook"


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    outcome: WebhookOutcome


class _AlreadyProcessed(Exception):
    pass


class Webhooks:
    def __init__(self, ctx: BillingContext, webhook_secret: str) -> None:
        self.ctx = ctx
        self.webhook_secret = webhook_secret

    def _verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Stripe's own check of the raw body: signature, secret and timestamp tolerance."""
        try:
            stripe.Webhook.construct_event(
                payload,
                signature,
                self.webhook_secret,
                tolerance=self.ctx.settings.stripe_webhook_tolerance_seconds,
            )
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook(
                "The Stripe-Signature header does not match this body, this endpoint's "
                "secret, or a recent time.",
                code="invalid_signature",
                title="Invalid webhook signature",
            ) from exc
        except Exception as exc:  # any unreadable body is the sender's error
            raise InvalidWebhook(
                "The webhook body is not a Stripe event (JSON).",
                code="invalid_payload",
                title="Invalid webhook payload",
            ) from exc
        # Stripe's library bounds the age of a signature, not how far it is ahead: a
        # timestamp from the future (a signature made to be replayed later) is refused too
        signed_at = _signed_at(signature)
        if (
            signed_at is None
            or signed_at > time.time() + self.ctx.settings.stripe_webhook_tolerance_seconds
        ):
            raise InvalidWebhook(
                "The Stripe-Signature header is dated in the future.",
                code="invalid_signature",
                title="Invalid webhook signature",
            )
        data = json.loads(payload)
        if not isinstance(data, dict):
            raise InvalidWebhook(
                "The webhook body is not a Stripe event object.",
                code="invalid_payload",
                title="Invalid webhook payload",
            )
        return data

    async def receive(
        self, payload: bytes, signature: str | None, correlation_id: str | None
    ) -> WebhookResult:
        data = self._verify(payload, signature)
        try:
            notice = parse(data)
        except MalformedEvent as exc:
            raise InvalidWebhook(
                str(exc), code="invalid_payload", title="Invalid webhook payload"
            ) from exc
        event_id, event_type = str(data["id"]), str(data["type"])
        if notice is None:
            return WebhookResult(event_id, event_type, "ignored")
        user_id = notice.user_id or await self.ctx.view.user_for(
            notice.customer_id, notice.subscription_id
        )
        now = self.ctx.clock()
        grace = timedelta(seconds=self.ctx.settings.payment_grace_seconds)

        async def work(session: AsyncClientSession) -> WebhookOutcome:
            try:
                await self.ctx.processed.claim(event_id, event_type, notice.created, now, session)
            except DuplicateKeyError as exc:
                raise _AlreadyProcessed from exc
            if notice.invoice is not None:
                await self.ctx.ledger.record(
                    user_id, notice.invoice, notice.ledger, event_id, notice.livemode, now, session
                )
            if user_id is None:
                log.warning("stripe.event_unmatched", stripe_event=event_id, type=event_type)
                await self.ctx.processed.settle(event_id, None, "unmatched", session)
                return "unmatched"
            subscription = await self.ctx.repo.get(user_id, session=session) or Subscription(
                user_id
            )
            subscription.open(self.ctx.catalog, now)
            if notice.invoice is not None and notice.invoice.paid:
                subscription.invoice_paid(notice.invoice, self.ctx.catalog, now)
            elif notice.invoice is not None:
                subscription.payment_failed(notice.invoice, self.ctx.catalog, now, grace)
            elif notice.subscription is not None:
                subscription.observe(notice.subscription, self.ctx.catalog, now)
            canceled = await self._end_late(subscription, event_id, now)
            changed = await self.ctx.save(subscription, session, correlation_id, event_id)
            outcome: WebhookOutcome = (
                "account_closed" if canceled else "applied" if changed else "no_change"
            )
            await self.ctx.processed.settle(event_id, user_id, outcome, session)
            return outcome

        try:
            outcome = await self.ctx.uow.command(work)
        except _AlreadyProcessed:
            outcome = "duplicate"
        log.info("stripe.event", stripe_event=event_id, type=event_type, outcome=outcome)
        return WebhookResult(event_id, event_type, outcome)

    async def _end_late(self, subscription: Subscription, event_id: str, now: datetime) -> bool:
        """A closed account with a live Stripe subscription (a checkout opened before the
        deletion, paid after it): cancel it at once, as the deletion did the others.

        Called inside the webhook's transaction, so if Stripe fails (after the library's own
        retries) nothing is kept, not even the event's id: the webhook answers 5xx and Stripe
        sends the same event again later, which asks again. A 2xx now would make Stripe
        forget the event while the subscription still charges, with nothing left here to
        retry it."""
        if not subscription.closed:
            return False
        late = subscription.live_stripe_subscriptions()
        if not late:
            return False
        provider = self.ctx.provider
        ended = [await provider.cancel_now(subscription.user_id, s, now) for s in late]
        subscription.ended_at_request(ended)
        log.warning(
            "billing.late_subscription_canceled",
            user_id=subscription.user_id,
            stripe_event=event_id,
            canceled=[facts.subscription_id for facts in ended],
        )
        return True


def _signed_at(signature: str | None) -> int | None:
    """The `t=` of a Stripe-Signature header."""
    for part in (signature or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None
