"""Reading Stripe webhook events: from Stripe's JSON (old and new API versions, e.g. the
subscription period that moved onto subscription items in 2025) to the facts the domain
understands, plus the ids that tell whose subscription it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from billing.domain.subscription import InvoiceFacts, SubscriptionFacts

SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
    }
)
HANDLED = SUBSCRIPTION_EVENTS | {
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
}


class MalformedEvent(ValueError):
    """Signed by Stripe's scheme, but not a Stripe event we can read."""


@dataclass(frozen=True)
class StripeNotice:
    """One Stripe event, read: who it is about and what it says."""

    event_id: str
    event_type: str
    created: datetime
    livemode: bool
    user_id: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    plan: str | None = None
    subscription: SubscriptionFacts | None = None
    invoice: InvoiceFacts | None = None
    ledger: dict[str, Any] = field(default_factory=dict)
    """Provider ids for the payments ledger (payment intent, charge)."""


def _ts(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _id(value: Any) -> str | None:
    """An id, whether Stripe sent it as a string or as an expanded object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _dig(obj: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or len(obj) <= key:
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
    return obj


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _metadata(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse(event: dict[str, Any]) -> StripeNotice | None:
    """The notice in a verified Stripe event; None for event types billing does not use."""
    event_id = _str(event.get("id"))
    event_type = _str(event.get("type"))
    created = _ts(event.get("created"))
    obj = _dig(event, "data", "object")
    if event_id is None or event_type is None or created is None or not isinstance(obj, dict):
        raise MalformedEvent("a Stripe event needs id, type, created and data.object")
    if event_type not in HANDLED:
        return None
    livemode = bool(event.get("livemode", False))
    if event_type == "checkout.session.completed":
        return _checkout_completed(event_id, event_type, created, livemode, obj)
    if event_type in SUBSCRIPTION_EVENTS:
        return _subscription(event_id, event_type, created, livemode, obj)
    return _invoice(event_id, event_type, created, livemode, obj)


def _checkout_completed(
    event_id: str, event_type: str, created: datetime, livemode: bool, obj: dict[str, Any]
) -> StripeNotice | None:
    if obj.get("mode") != "subscription":
        return None
    subscription_id = _id(obj.get("subscription"))
    customer_id = _id(obj.get("customer"))
    metadata = _metadata(obj.get("metadata"))
    user_id = _str(obj.get("client_reference_id")) or _str(metadata.get("user_id"))
    paid = obj.get("payment_status") in ("paid", "no_payment_required")
    facts = (
        SubscriptionFacts(
            subscription_id=subscription_id,
            as_of=created,
            source=event_type,
            source_id=event_id,
            status="active" if paid else "incomplete",
            customer_id=customer_id,
        )
        if subscription_id
        else None
    )
    return StripeNotice(
        event_id=event_id,
        event_type=event_type,
        created=created,
        livemode=livemode,
        user_id=user_id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        plan=_str(metadata.get("plan")),
        subscription=facts,
    )


def subscription_facts(
    obj: dict[str, Any], as_of: datetime, source: str, source_id: str | None
) -> SubscriptionFacts:
    """A Stripe Subscription object as facts (also used for answers of Stripe's API)."""
    subscription_id = _id(obj)
    if subscription_id is None:
        raise MalformedEvent("a subscription without an id")
    item = _dig(obj, "items", "data", 0) or {}
    start = _ts(obj.get("current_period_start")) or _ts(_dig(item, "current_period_start"))
    end = _ts(obj.get("current_period_end")) or _ts(_dig(item, "current_period_end"))
    cancel = obj.get("cancel_at_period_end")
    return SubscriptionFacts(
        subscription_id=subscription_id,
        as_of=as_of,
        source=source,
        source_id=source_id,
        status=_str(obj.get("status")),
        customer_id=_id(obj.get("customer")),
        current_period_start=start,
        current_period_end=end,
        cancel_at_period_end=cancel if isinstance(cancel, bool) else None,
    )


def _subscription(
    event_id: str, event_type: str, created: datetime, livemode: bool, obj: dict[str, Any]
) -> StripeNotice:
    facts = subscription_facts(obj, created, event_type, event_id)
    if event_type == "customer.subscription.deleted" and facts.status not in (
        "canceled",
        "incomplete_expired",
    ):
        facts = SubscriptionFacts(**{**facts.__dict__, "status": "canceled"})
    metadata = _metadata(obj.get("metadata"))
    return StripeNotice(
        event_id=event_id,
        event_type=event_type,
        created=created,
        livemode=livemode,
        user_id=_str(metadata.get("user_id")),
        customer_id=facts.customer_id,
        subscription_id=facts.subscription_id,
        plan=_str(metadata.get("plan")),
        subscription=facts,
    )


def _invoice(
    event_id: str, event_type: str, created: datetime, livemode: bool, obj: dict[str, Any]
) -> StripeNotice:
    invoice_id = _id(obj)
    if invoice_id is None:
        raise MalformedEvent("an invoice without an id")
    line = _dig(obj, "lines", "data", 0) or {}
    subscription_id = (
        _id(obj.get("subscription"))
        or _id(_dig(obj, "parent", "subscription_details", "subscription"))
        or _id(_dig(line, "parent", "subscription_item_details", "subscription"))
        or _id(line.get("subscription") if isinstance(line, dict) else None)
    )
    metadata = _metadata(
        _dig(obj, "parent", "subscription_details", "metadata")
        or _dig(obj, "subscription_details", "metadata")
        or _dig(line, "metadata")
        or obj.get("metadata")
    )
    paid = event_type in ("invoice.paid", "invoice.payment_succeeded")
    amount_field = "amount_paid" if paid else "amount_due"
    amount = obj.get(amount_field)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise MalformedEvent(f"an invoice without {amount_field}")
    currency = _str(obj.get("currency"))
    if currency is None or len(currency) != 3:
        raise MalformedEvent("an invoice without a currency")
    attempt = obj.get("attempt_count")
    customer_id = _id(obj.get("customer"))
    facts = InvoiceFacts(
        invoice_id=invoice_id,
        subscription_id=subscription_id,
        customer_id=customer_id,
        paid=paid,
        amount=amount,
        currency=currency.lower(),
        # the event's own time orders it against the subscription's other news
        occurred_at=created,
        attempt=attempt if isinstance(attempt, int) and attempt > 0 else 1,
        billing_reason=_str(obj.get("billing_reason")),
        period_start=_ts(_dig(line, "period", "start")) or _ts(obj.get("period_start")),
        period_end=_ts(_dig(line, "period", "end")) or _ts(obj.get("period_end")),
        source_id=event_id,
    )
    payment_intent = _id(obj.get("payment_intent")) or _id(
        _dig(obj, "payments", "data", 0, "payment", "payment_intent")
    )
    return StripeNotice(
        event_id=event_id,
        event_type=event_type,
        created=created,
        livemode=livemode,
        user_id=_str(metadata.get("user_id")),
        customer_id=customer_id,
        subscription_id=subscription_id,
        invoice=facts,
        ledger={"payment_intent_id": payment_intent, "charge_id": _id(obj.get("charge"))},
    )
