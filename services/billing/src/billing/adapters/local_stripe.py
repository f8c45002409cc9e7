"""The stand-in for Stripe when no STRIPE_API_KEY is set: it writes the webhook events
Stripe would send for a local checkout (same JSON shapes) and signs them with Stripe's
scheme, so they go through the very same verification and handling as Stripe's own.

Ids are derived from the checkout's id, so paying twice (a double click, a retry after a
crash) delivers the same Stripe event ids again, which the webhook handler deduplicates.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import stripe
from servicekit.logs import get_logger
from servicekit.mongo import Document

from billing.adapters.checkouts import new_local_id
from billing.adapters.stripe_events import subscription_facts
from billing.app.ports import CheckoutEnded, CheckoutRequest, PaymentsUnavailable
from billing.domain.subscription import StripeSubscription, SubscriptionFacts

log = get_logger(__name__)

WebhookReceiver = Callable[[bytes, str | None, str | None], Awaitable[Any]]

API_VERSION = "2025-03-31.basil"


def _derive(prefix: str, checkout_id: str, what: str) -> str:
    digest = hashlib.sha256(f"{what}:{checkout_id}".encode()).hexdigest()[:24]
    return f"{prefix}_local_{digest}"


def is_local(subscription_id: str) -> bool:
    """A subscription of the local stand-in, not of Stripe."""
    return subscription_id.startswith("sub_local_")


def customer_id_for(user_id: str) -> str:
    return "cus_local_" + hashlib.sha256(f"customer:{user_id}".encode()).hexdigest()[:20]


def add_month(moment: datetime) -> datetime:
    """Same day next month (clamped), as Stripe bills monthly."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header: t=<unix>,v1=HMAC-SHA256(secret, f"{t}.{payload}")."""
    header: str = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return header


def _event(event_id: str, event_type: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def subscription_object(
    subscription_id: str,
    customer_id: str,
    user_id: str,
    plan: str,
    status: str,
    created: int,
    period_start: int,
    period_end: int,
    cancel_at_period_end: bool,
    price: dict[str, Any],
    canceled_at: int | None = None,
) -> dict[str, Any]:
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": cancel_at_period_end,
        "cancel_at": period_end if cancel_at_period_end else None,
        "canceled_at": canceled_at,
        "ended_at": canceled_at if status == "canceled" else None,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": price["currency"],
        "customer": customer_id,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": subscription_id.replace("sub_", "si_", 1),
                    "object": "subscription_item",
                    "current_period_start": period_start,
                    "current_period_end": period_end,
                    "price": price,
                    "quantity": 1,
                    "subscription": subscription_id,
                }
            ],
        },
        "livemode": False,
        "metadata": {"user_id": user_id, "plan": plan},
        "status": status,
    }


def _price(amount: int, currency: str, plan: str) -> dict[str, Any]:
    return {
        "id": f"price_local_{plan}",
        "object": "price",
        "currency": currency,
        "recurring": {"interval": "month", "interval_count": 1},
        "type": "recurring",
        "unit_amount": amount,
    }


def _invoice(
    invoice_id: str,
    checkout: dict[str, Any],
    subscription_id: str,
    customer_id: str,
    created: int,
    period_end: int,
    paid: bool,
) -> dict[str, Any]:
    amount = int(checkout["amount"])
    currency = str(checkout["currency"])
    metadata = {"user_id": checkout["user_id"], "plan": checkout["plan"]}
    payment_intent = invoice_id.replace("in_", "pi_", 1)
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": "subscription_create",
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_email": checkout.get("email"),
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": invoice_id.replace("in_", "il_", 1),
                    "object": "line_item",
                    "amount": amount,
                    "currency": currency,
                    "metadata": metadata,
                    "period": {"start": created, "end": period_end},
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {"subscription": subscription_id},
                    },
                }
            ],
        },
        "livemode": False,
        "next_payment_attempt": None,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"metadata": metadata, "subscription": subscription_id},
        },
        "payments": {
            "object": "list",
            "data": [
                {
                    "object": "invoice_payment",
                    "payment": {"type": "payment_intent", "payment_intent": payment_intent},
                    "status": "paid" if paid else "open",
                }
            ],
        },
        "period_start": created,
        "period_end": created,
        "status": "paid" if paid else "open",
        "status_transitions": {
            "finalized_at": created,
            "paid_at": created if paid else None,
        },
    }


def ids(checkout_id: str) -> dict[str, str]:
    """The Stripe-like ids a local checkout's payment goes by (stable per checkout)."""
    return {
        "subscription_id": _derive("sub", checkout_id, "subscription"),
        "invoice_id": _derive("in", checkout_id, "invoice"),
    }


def payment_events(checkout: dict[str, Any], customer_id: str) -> list[dict[str, Any]]:
    """What Stripe sends when a subscription checkout is paid: the session completed and the
    first invoice paid (the subscription's own created event adds nothing here)."""
    paid_at = checkout["paid_at"]
    created = int(paid_at.timestamp())
    period_end = int(add_month(paid_at).timestamp())
    known = ids(checkout["_id"])
    session = {
        "id": checkout["_id"],
        "object": "checkout.session",
        "amount_subtotal": checkout["amount"],
        "amount_total": checkout["amount"],
        "client_reference_id": checkout["user_id"],
        "created": int(checkout["created_at"].timestamp()),
        "currency": checkout["currency"],
        "customer": customer_id,
        "customer_details": {"email": checkout.get("email")},
        "expires_at": int(checkout["expires_at"].timestamp()),
        "invoice": known["invoice_id"],
        "livemode": False,
        "metadata": {"user_id": checkout["user_id"], "plan": checkout["plan"]},
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": known["subscription_id"],
        "success_url": checkout.get("success_url"),
    }
    invoice = _invoice(
        known["invoice_id"], checkout, known["subscription_id"], customer_id, created, period_end,
        paid=True,
    )  # fmt: skip
    return [
        _event(_derive("evt", checkout["_id"], "completed"), "checkout.session.completed",
               created, session),
        _event(_derive("evt", checkout["_id"], "invoice.paid"), "invoice.paid", created, invoice),
    ]  # fmt: skip


def decline_events(checkout: dict[str, Any], customer_id: str) -> list[dict[str, Any]]:
    """What Stripe sends when the first payment of a subscription is declined."""
    declined_at = checkout["declined_at"]
    created = int(declined_at.timestamp())
    known = ids(checkout["_id"])
    invoice = _invoice(
        known["invoice_id"], checkout, known["subscription_id"], customer_id, created,
        int(add_month(declined_at).timestamp()), paid=False,
    )  # fmt: skip
    return [
        _event(_derive("evt", checkout["_id"], "payment_failed"), "invoice.payment_failed",
               created, invoice),
    ]  # fmt: skip


def cancel_event(
    user_id: str,
    plan: str,
    subscription_id: str,
    customer_id: str,
    amount: int,
    currency: str,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> dict[str, Any]:
    """`customer.subscription.updated` for "cancel at the end of the period"."""
    created = int(now.timestamp())
    obj = subscription_object(
        subscription_id, customer_id, user_id, plan, "active", int(period_start.timestamp()),
        int(period_start.timestamp()), int(period_end.timestamp()), True,
        _price(amount, currency, plan), canceled_at=created,
    )  # fmt: skip
    event = _event(f"evt_local_{uuid.uuid4().hex[:24]}", "customer.subscription.updated",
                   created, obj)  # fmt: skip
    event["data"]["previous_attributes"] = {"cancel_at_period_end": False, "cancel_at": None}
    return event


def canceled_subscription(
    user_id: str,
    plan: str,
    subscription_id: str,
    customer_id: str,
    amount: int,
    currency: str,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> dict[str, Any]:
    """What Stripe answers to DELETE /v1/subscriptions/{id}: the subscription, canceled now
    (Stripe's `customer.subscription.deleted` that follows would repeat it)."""
    created = int(now.timestamp())
    return subscription_object(
        subscription_id, customer_id, user_id, plan, "canceled", int(period_start.timestamp()),
        int(period_start.timestamp()), int(period_end.timestamp()), False,
        _price(amount, currency, plan), canceled_at=created,
    )  # fmt: skip


async def deliver_signed(
    receive: WebhookReceiver, secret: str, event: dict[str, Any], correlation_id: str | None
) -> None:
    """Hand a Stripe-format event to billing's webhook handler, signed as Stripe signs."""
    payload = dumps(event)
    await receive(payload.encode(), sign(payload, secret), correlation_id)


class LocalProvider:
    """The payment provider port without a Stripe key: checkouts paid on billing's own page
    (`enabled`: LOCAL_CHECKOUT_ENABLED), its subscriptions cancelled here. A real Stripe
    subscription cannot be cancelled without the key: that is refused (503), so the consumer
    retries and parks it for an operator rather than leave the user charged."""

    def __init__(
        self,
        enabled: bool,
        public_url: str | None,
        success_url: str,
        ttl_seconds: float,
        amount: int,
        currency: str,
        webhook_secret: str,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.receive: WebhookReceiver | None = None
        """Billing's webhook handler, bound by the composition root: what this stand-in
        delivers Stripe's webhooks to, signed as Stripe signs them."""
        self.enabled = enabled
        self.public_url = public_url
        self.success_url = success_url
        self.ttl = timedelta(seconds=ttl_seconds)
        self.amount = amount
        self.currency = currency

    def _require(self) -> None:
        if not self.enabled:
            raise PaymentsUnavailable("Payments are not configured (STRIPE_API_KEY is unset).")

    async def open_checkout(self, request: CheckoutRequest) -> dict[str, Any]:
        self._require()
        checkout_id = new_local_id()
        url = f"/billing/local-checkout/{checkout_id}"
        if self.public_url:
            url = self.public_url.rstrip("/") + url
        return {
            "_id": checkout_id,
            "provider": "local",
            "url": url,
            "customer_id": request.customer_id or customer_id_for(request.user_id),
            "success_url": self.success_url,
            "expires_at": request.now + self.ttl,
        }

    def _answer(
        self, user_id: str, subscription: StripeSubscription, now: datetime, canceled: bool
    ) -> dict[str, Any]:
        common = self._common(user_id, subscription, now)
        if canceled:
            return canceled_subscription(**common)
        obj: dict[str, Any] = cancel_event(**common)["data"]["object"]
        return obj

    def _common(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> dict[str, Any]:
        start = subscription.current_period_start or now
        return {
            "user_id": user_id,
            "plan": "premium",
            "subscription_id": subscription.id,
            "customer_id": subscription.customer_id or customer_id_for(user_id),
            "amount": self.amount,
            "currency": self.currency,
            "period_start": start,
            "period_end": subscription.current_period_end or add_month(start),
            "now": now,
        }

    async def deliver(self, event: dict[str, Any], correlation_id: str | None = None) -> None:
        assert self.receive is not None, "LocalProvider.receive is bound at start-up"
        await deliver_signed(self.receive, self.webhook_secret, event, correlation_id)

    async def cancel_at_period_end(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        """Stripe answers with the subscription and then sends `customer.subscription.updated`:
        both here, the webhook first, through the same handler as Stripe's."""
        self._require()
        stamp = now.replace(microsecond=0)
        answer = self._answer(user_id, subscription, stamp, canceled=False)
        await self.deliver(cancel_event(**self._common(user_id, subscription, stamp)))
        return subscription_facts(answer, stamp, "local.subscriptions.update", None)

    async def cancel_now(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        if not is_local(subscription.id):
            raise PaymentsUnavailable(
                f"Cannot cancel Stripe subscription {subscription.id}: STRIPE_API_KEY is unset."
            )
        stamp = now.replace(microsecond=0)
        answer = self._answer(user_id, subscription, stamp, canceled=True)
        return subscription_facts(answer, stamp, "local.subscriptions.cancel", None)

    async def expire_checkout(self, checkout: Document) -> CheckoutEnded:
        if checkout.get("provider") == "local":
            return CheckoutEnded("expired")
        # a Stripe checkout and no key to expire it with: it expires by itself within a day,
        # and should it be paid first, the webhook finds the account closed and cancels what
        # it started
        log.warning(
            "billing.checkout_left_open", checkout=checkout["_id"], user_id=checkout.get("user_id")
        )
        return CheckoutEnded(None)
