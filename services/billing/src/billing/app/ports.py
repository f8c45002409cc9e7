"""What billing's use cases need from a payment provider. Stripe (`adapters.stripe_provider`)
and the local stand-in used without a Stripe key (`adapters.local_stripe.LocalProvider`)
implement the same port, so no use case asks which one it has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from servicekit.mongo import Document
from servicekit.problems import DomainError

from billing.domain.plans import Plan
from billing.domain.subscription import StripeSubscription, SubscriptionFacts


class PaymentsUnavailable(DomainError):
    status = 503
    code = "payments_unavailable"
    title = "Payments unavailable"


@dataclass(frozen=True)
class CheckoutRequest:
    """A user's request to buy a plan; `idempotency_key` is the same for a double click."""

    user_id: str
    email: str | None
    customer_id: str | None
    plan: Plan
    idempotency_key: str
    now: datetime


@dataclass(frozen=True)
class CheckoutEnded:
    """How an open checkout was made unpayable: the status to record on it (None: left as
    it is) and the subscription a payment just before had started (to end as well)."""

    status: str | None
    started_subscription: str | None = None


class PaymentProvider(Protocol):
    async def open_checkout(self, request: CheckoutRequest) -> dict[str, Any]:
        """A new checkout: the fields of its record (`_id`, `provider`, `url`, `expires_at`
        and whatever the provider needs later)."""
        ...

    async def cancel_at_period_end(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        """Ask for the paid subscription to end with its period; what the provider answers."""
        ...

    async def cancel_now(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        """End it at once (the account is closed): it charges no more."""
        ...

    async def expire_checkout(self, checkout: Document) -> CheckoutEnded:
        """Make an open checkout unpayable (the account is closed)."""
        ...
