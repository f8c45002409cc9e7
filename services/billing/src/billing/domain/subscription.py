"""The Subscription aggregate: one per user, the plan they are on and why.

Stripe is the source of truth about a user's Stripe subscriptions; this aggregate keeps the
latest word Stripe gave about each of them (as of Stripe's own timestamps, so a webhook that
arrives late never overwrites newer news, and an ended subscription never comes back), and
decides the plan from that: premium while a Stripe subscription is paid up (or inside the
grace window after a failed renewal), free otherwise. Plan changes are the published events;
what Stripe said is kept in the stream as local events. When the user deletes their account,
billing ends every Stripe subscription that could still charge them and closes the aggregate.
A closed account stays closed: nothing buys it premium again, and any Stripe subscription
that turns up later (a checkout opened before the deletion, paid after it) is to be ended at
once like the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from contracts import DomainEvent, PaymentFailed, PlanDowngraded, PlanUpgraded
from contracts.events import PlanName, event
from pydantic import AwareDatetime, Field
from servicekit.domain import Aggregate, DomainError

from billing.domain.plans import Catalog

# Stripe subscription statuses (https://docs.stripe.com/api/subscriptions/object#status)
TERMINAL = frozenset({"canceled", "incomplete_expired"})
ENTITLING = frozenset({"active", "trialing", "past_due"})
# For two reports with the same timestamp (Stripe's clock has one-second resolution): the
# one further along a subscription's life wins.
_PROGRESS = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "past_due": 3,
    "paused": 4,
    "unpaid": 5,
    "incomplete_expired": 6,
    "canceled": 7,
}
_TICK = timedelta(milliseconds=1)  # Mongo keeps milliseconds

DowngradeReason = Literal["canceled", "payment_failed", "deleted"]


class AlreadyOnPlan(DomainError):
    status = 409
    code = "already_subscribed"
    title = "Already on this plan"


class NoActiveSubscription(DomainError):
    status = 409
    code = "no_active_subscription"
    title = "No paid subscription"


class AccountClosed(DomainError):
    # 409 like the other refusals of these endpoints (already_subscribed, checkout_closed):
    # the account's state conflicts with the request. Not 410: the URL is not what is gone,
    # and a 410 may be cached without being told to.
    status = 409
    code = "account_closed"
    title = "Account closed"


# ---------------------------------------------------------------------------------------
# local events: what Stripe told us, kept in the stream, not published


@event
class SubscriptionOpened(DomainEvent):
    user_id: str
    plan: PlanName = "free"
    weekly_limit: int = Field(ge=0)
    opened_at: AwareDatetime


@event
class StripeSubscriptionObserved(DomainEvent):
    """Stripe's state of one of the user's Stripe subscriptions as of `as_of` (Stripe's
    clock), already merged with what was known before."""

    user_id: str
    subscription_id: str
    customer_id: str | None = None
    status: str
    as_of: AwareDatetime
    current_period_start: AwareDatetime | None = None
    current_period_end: AwareDatetime | None = None
    cancel_at_period_end: bool = False
    source: str = Field(description="The Stripe event type or API call that said so.")
    source_id: str | None = None


@event
class SubscriptionClosed(DomainEvent):
    """The user deleted their account; billing ended their Stripe subscriptions at once."""

    user_id: str
    closed_at: AwareDatetime
    reason: Literal["account_deleted"] = "account_deleted"


@event
class SubscriptionPaymentSucceeded(DomainEvent):
    user_id: str
    subscription_id: str | None = None
    invoice_id: str
    amount: int = Field(ge=0)
    currency: str
    paid_at: AwareDatetime


# ---------------------------------------------------------------------------------------
# what a Stripe webhook or API answer says, translated out of Stripe's wire format


@dataclass(frozen=True)
class SubscriptionFacts:
    """A report about one Stripe subscription; None means "not said"."""

    subscription_id: str
    as_of: datetime
    source: str
    status: str | None = None
    customer_id: str | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class InvoiceFacts:
    invoice_id: str
    subscription_id: str | None
    customer_id: str | None
    paid: bool
    amount: int
    currency: str
    occurred_at: datetime
    attempt: int = 1
    billing_reason: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class StripeSubscription:
    id: str
    status: str
    as_of: datetime
    customer_id: str | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class PaymentFailure:
    invoice_id: str
    subscription_id: str | None
    amount: int
    currency: str
    attempt: int
    failed_at: datetime
    grace_until: datetime | None
    resolved_at: datetime | None = None


class Subscription(Aggregate):
    aggregate_type = "subscription"
    local_events = frozenset(
        {
            "SubscriptionOpened",
            "StripeSubscriptionObserved",
            "SubscriptionPaymentSucceeded",
            "SubscriptionClosed",
        }
    )

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.user_id = aggregate_id
        self.opened_at: datetime | None = None
        self.plan: PlanName = "free"
        self.weekly_limit = 0
        self.plan_changed_at: datetime | None = None
        self.premium_via: str | None = None
        self.downgrade_reason: str | None = None
        self.customer_id: str | None = None
        self.stripe: dict[str, StripeSubscription] = {}
        self.last_payment_failure: PaymentFailure | None = None
        self.failing_subscription: str | None = None
        self.grace_until: datetime | None = None
        self.last_paid_at: datetime | None = None
        self.closed_at: datetime | None = None

    # -- commands ------------------------------------------------------------------------
    @property
    def opened(self) -> bool:
        return self.opened_at is not None

    def open(self, catalog: Catalog, now: datetime) -> bool:
        """Start on the free plan; False when already open (events may arrive in any order)."""
        if self.opened:
            return False
        self.record(
            SubscriptionOpened(
                user_id=self.user_id, weekly_limit=catalog.free.weekly_limit, opened_at=now
            )
        )
        return True

    def ensure_open(self) -> None:
        if self.closed:
            raise AccountClosed(
                "This account has been deleted: nothing can be bought or paid for it."
            )

    def ensure_can_buy(self, plan: PlanName) -> None:
        self.ensure_open()
        if self.plan == plan:
            raise AlreadyOnPlan(f"You are already on the {plan} plan.")

    def observe(self, facts: SubscriptionFacts, catalog: Catalog, now: datetime) -> bool:
        """Take in a report about a Stripe subscription; False when it is older news."""
        if not self._take_in(facts):
            return False
        self.reconcile(catalog, now)
        return True

    def _take_in(self, facts: SubscriptionFacts) -> bool:
        merged = self._merge(facts)
        if merged is None:
            return False
        self.record(
            StripeSubscriptionObserved(
                user_id=self.user_id,
                subscription_id=merged.id,
                customer_id=merged.customer_id,
                status=merged.status,
                as_of=merged.as_of,
                current_period_start=merged.current_period_start,
                current_period_end=merged.current_period_end,
                cancel_at_period_end=merged.cancel_at_period_end,
                source=facts.source,
                source_id=facts.source_id,
            )
        )
        return True

    def invoice_paid(self, invoice: InvoiceFacts, catalog: Catalog, now: datetime) -> None:
        """A payment went through: the subscription is active and any failure is cured."""
        fresh = self.last_paid_at is None or invoice.occurred_at >= self.last_paid_at
        if fresh:
            self.record(
                SubscriptionPaymentSucceeded(
                    user_id=self.user_id,
                    subscription_id=invoice.subscription_id,
                    invoice_id=invoice.invoice_id,
                    amount=invoice.amount,
                    currency=invoice.currency,
                    paid_at=invoice.occurred_at,
                )
            )
        if invoice.subscription_id:
            self.observe(
                SubscriptionFacts(
                    subscription_id=invoice.subscription_id,
                    as_of=invoice.occurred_at,
                    source="invoice.paid",
                    source_id=invoice.source_id,
                    status="active",
                    customer_id=invoice.customer_id,
                    current_period_start=invoice.period_start,
                    current_period_end=invoice.period_end,
                ),
                catalog,
                now,
            )
        self.reconcile(catalog, now)

    def payment_failed(
        self, invoice: InvoiceFacts, catalog: Catalog, now: datetime, grace: timedelta
    ) -> bool:
        """A charge failed. A renewal of the subscription that gives premium starts (or
        continues) the grace window; a first payment leaves the plan as it is. False when the
        failure is older than a later successful payment or its subscription has ended."""
        if self.last_paid_at is not None and invoice.occurred_at < self.last_paid_at:
            return False
        known = self.stripe.get(invoice.subscription_id) if invoice.subscription_id else None
        if known is not None and known.ended:
            return False
        if self.closed:
            # nobody to tell any more; a subscription we had not heard of is still taken in,
            # to be ended like any other that turns up after the account closed
            if invoice.subscription_id and known is None:
                self._take_in(
                    SubscriptionFacts(
                        subscription_id=invoice.subscription_id,
                        as_of=invoice.occurred_at,
                        source="invoice.payment_failed",
                        source_id=invoice.source_id,
                        status="incomplete",
                        customer_id=invoice.customer_id,
                    )
                )
            return False
        grace_until: datetime | None = None
        if self.plan == "premium" and invoice.subscription_id == self.premium_via:
            if self.failing_subscription == invoice.subscription_id and self.grace_until:
                grace_until = self.grace_until  # the window runs from the first failure
            else:
                grace_until = invoice.occurred_at + grace
        self.record(
            PaymentFailed(
                user_id=self.user_id,
                subscription_id=invoice.subscription_id,
                invoice_id=invoice.invoice_id,
                amount=invoice.amount,
                currency=invoice.currency,
                attempt=max(invoice.attempt, 1),
                grace_until=grace_until,
                failed_at=invoice.occurred_at,
            )
        )
        if invoice.subscription_id and known is None:
            # the first invoice of a subscription we had not heard of: it exists, unpaid
            self.observe(
                SubscriptionFacts(
                    subscription_id=invoice.subscription_id,
                    as_of=invoice.occurred_at,
                    source="invoice.payment_failed",
                    source_id=invoice.source_id,
                    status="incomplete",
                    customer_id=invoice.customer_id,
                ),
                catalog,
                now,
            )
        self.reconcile(catalog, now)
        return True

    def cancellable(self) -> StripeSubscription:
        """The Stripe subscription to cancel at its period end."""
        sub = self.stripe.get(self.premium_via) if self.premium_via else None
        if self.plan != "premium" or sub is None:
            raise NoActiveSubscription("You have no paid subscription to cancel.")
        return sub

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def live_stripe_subscriptions(self) -> list[StripeSubscription]:
        """The Stripe subscriptions that have not ended: any of them may still charge the user
        (premium, canceling at period end, past due, or not yet paid)."""
        return sorted((s for s in self.stripe.values() if not s.ended), key=lambda s: s.as_of)

    def close_for_deleted_account(
        self, ended: Sequence[SubscriptionFacts], catalog: Catalog, now: datetime
    ) -> bool:
        """The user deleted their account and billing has just ended these Stripe
        subscriptions: take that in, drop premium with reason "deleted" (whether a cancel at
        period end or a grace window was pending) and close. False when already closed."""
        if self.closed:
            return False
        self.ended_at_request(ended)
        self.reconcile(catalog, now, reason="deleted")
        self.record(SubscriptionClosed(user_id=self.user_id, closed_at=now))
        return True

    def ended_at_request(self, ended: Sequence[SubscriptionFacts]) -> None:
        """Billing has just ended these Stripe subscriptions (when the account was closed, or
        one that turned up after it): take that in. The plan is left as it is; on a closed
        account it is free and stays so."""
        for facts in ended:
            known = self.stripe.get(facts.subscription_id)
            # ended just now at billing's request: nothing heard before is newer news, whatever
            # Stripe's clock said then (at the same second the end wins over any other status)
            as_of = max(facts.as_of, known.as_of) if known is not None else facts.as_of
            status = facts.status if facts.status in TERMINAL else "canceled"
            self._take_in(replace(facts, as_of=as_of, status=status))

    def reconcile(
        self, catalog: Catalog, now: datetime, reason: DowngradeReason | None = None
    ) -> None:
        """Move the plan to what the Stripe subscriptions entitle the user to right now;
        `reason` says why a downgrade happens when the caller knows better than Stripe's
        state does. A closed account is on free for good: a Stripe subscription that still
        says it is paid (one that turned up after the deletion) upgrades nothing."""
        if not self.opened or self.closed:
            return
        entitled = self._entitling(now)
        if entitled is not None and self.plan != "premium":
            self.record(
                PlanUpgraded(
                    user_id=self.user_id,
                    plan="premium",
                    weekly_limit=catalog.premium.weekly_limit,
                    subscription_id=entitled.id,
                    effective_at=self._effective(now),
                    current_period_end=entitled.current_period_end,
                    monthly_price=catalog.premium.monthly_price,
                    currency=catalog.premium.currency,
                )
            )
        elif entitled is None and self.plan == "premium":
            self.record(
                PlanDowngraded(
                    user_id=self.user_id,
                    from_plan="premium",
                    plan="free",
                    weekly_limit=catalog.free.weekly_limit,
                    reason=reason or self._downgrade_reason(),
                    effective_at=self._effective(now),
                )
            )
        elif entitled is not None and entitled.id != self.premium_via:
            # another paid subscription carries premium on: say so, the plan stays
            self.record(
                PlanUpgraded(
                    user_id=self.user_id,
                    plan="premium",
                    weekly_limit=catalog.premium.weekly_limit,
                    subscription_id=entitled.id,
                    effective_at=self._effective(now),
                    current_period_end=entitled.current_period_end,
                    monthly_price=catalog.premium.monthly_price,
                    currency=catalog.premium.currency,
                )
            )

    # -- rules -----------------------------------------------------------------------------
    def _merge(self, facts: SubscriptionFacts) -> StripeSubscription | None:
        current = self.stripe.get(facts.subscription_id)
        if current is None:
            return StripeSubscription(
                id=facts.subscription_id,
                status=facts.status or "incomplete",
                as_of=facts.as_of,
                customer_id=facts.customer_id,
                current_period_start=facts.current_period_start,
                current_period_end=facts.current_period_end,
                cancel_at_period_end=bool(facts.cancel_at_period_end),
            )
        if current.ended:
            return None  # an ended subscription never comes back; later news only repeats it
        status = facts.status or current.status
        newer = facts.as_of > current.as_of or (
            facts.as_of == current.as_of
            and _PROGRESS.get(status, 0) >= _PROGRESS.get(current.status, 0)
        )
        if newer:
            merged = StripeSubscription(
                id=current.id,
                status=status,
                as_of=max(facts.as_of, current.as_of),
                customer_id=facts.customer_id or current.customer_id,
                current_period_start=facts.current_period_start or current.current_period_start,
                current_period_end=facts.current_period_end or current.current_period_end,
                cancel_at_period_end=(
                    current.cancel_at_period_end
                    if facts.cancel_at_period_end is None
                    else facts.cancel_at_period_end
                ),
            )
        else:
            # older news only fills in what nobody has said yet (a period a late invoice knew)
            merged = replace(
                current,
                customer_id=current.customer_id or facts.customer_id,
                current_period_start=current.current_period_start or facts.current_period_start,
                current_period_end=current.current_period_end or facts.current_period_end,
            )
        return None if merged == current else merged

    def _entitling(self, now: datetime) -> StripeSubscription | None:
        """The Stripe subscription that gives premium now, preferring the current one."""
        candidates = [s for s in self.stripe.values() if self._entitles(s, now)]
        if not candidates:
            return None
        for sub in candidates:
            if sub.id == self.premium_via:
                return sub
        return max(candidates, key=lambda s: s.as_of)

    def _entitles(self, sub: StripeSubscription, now: datetime) -> bool:
        if sub.status not in ENTITLING:
            return False
        if sub.cancel_at_period_end and sub.current_period_end and sub.current_period_end <= now:
            return False
        lapsed = self.grace_until is not None and self.grace_until <= now
        return not (self.failing_subscription == sub.id and lapsed)

    def _downgrade_reason(self) -> DowngradeReason:
        sub = self.stripe.get(self.premium_via) if self.premium_via else None
        if sub is not None and sub.cancel_at_period_end:
            return "canceled"
        if (sub is not None and self.failing_subscription == sub.id) or (
            sub is not None and sub.status in ("unpaid", "past_due")
        ):
            return "payment_failed"
        return "deleted"

    def _effective(self, now: datetime) -> datetime:
        """Plan changes carry increasing times: consumers keep the newest by `effective_at`."""
        if self.plan_changed_at is not None and now <= self.plan_changed_at:
            return self.plan_changed_at + _TICK
        return now

    def next_check_at(self) -> datetime | None:
        """When the plan may lapse without a webhook: period end after a cancel, grace end."""
        if self.plan != "premium":
            return None
        moments: list[datetime] = []
        sub = self.stripe.get(self.premium_via) if self.premium_via else None
        if sub is not None and sub.cancel_at_period_end and sub.current_period_end:
            moments.append(sub.current_period_end)
        if self.failing_subscription and self.grace_until:
            moments.append(self.grace_until)
        return min(moments) if moments else None

    @property
    def status(self) -> str:
        if self.closed:
            return "canceled"
        if self.plan == "premium" and self.failing_subscription == self.premium_via:
            return "past_due"
        return "active"

    @property
    def current(self) -> StripeSubscription | None:
        """The Stripe subscription the view shows: the one giving premium, else the newest
        live one; for a closed account, the last one billing ended."""
        if self.premium_via and self.premium_via in self.stripe:
            return self.stripe[self.premium_via]
        live = [s for s in self.stripe.values() if not s.ended]
        if not live and self.closed:
            live = list(self.stripe.values())
        return max(live, key=lambda s: s.as_of) if live else None

    # -- fold ----------------------------------------------------------------------------
    def when(self, event: DomainEvent) -> None:
        if isinstance(event, SubscriptionOpened):
            self.opened_at = event.opened_at
            self.plan = event.plan
            self.weekly_limit = event.weekly_limit
        elif isinstance(event, StripeSubscriptionObserved):
            self.stripe[event.subscription_id] = StripeSubscription(
                id=event.subscription_id,
                status=event.status,
                as_of=event.as_of,
                customer_id=event.customer_id,
                current_period_start=event.current_period_start,
                current_period_end=event.current_period_end,
                cancel_at_period_end=event.cancel_at_period_end,
            )
            if event.customer_id:
                self.customer_id = event.customer_id
        elif isinstance(event, SubscriptionClosed):
            self.closed_at = event.closed_at
        elif isinstance(event, SubscriptionPaymentSucceeded):
            self.last_paid_at = event.paid_at
            failure = self.last_payment_failure
            # a payment cures a failure only if it came after it (by Stripe's clock)
            if failure and failure.resolved_at is None and failure.failed_at <= event.paid_at:
                self.last_payment_failure = replace(failure, resolved_at=event.paid_at)
                if self.failing_subscription in (event.subscription_id, None):
                    self.failing_subscription = None
                    self.grace_until = None
        elif isinstance(event, PaymentFailed):
            self.last_payment_failure = PaymentFailure(
                invoice_id=event.invoice_id,
                subscription_id=event.subscription_id,
                amount=event.amount,
                currency=event.currency,
                attempt=event.attempt,
                failed_at=event.failed_at,
                grace_until=event.grace_until,
            )
            if event.grace_until is not None:
                self.failing_subscription = event.subscription_id
                self.grace_until = event.grace_until
        elif isinstance(event, PlanUpgraded):
            self.plan = event.plan
            self.weekly_limit = event.weekly_limit
            self.premium_via = event.subscription_id
            self.plan_changed_at = event.effective_at
            self.downgrade_reason = None
        elif isinstance(event, PlanDowngraded):
            self.plan = event.plan
            self.weekly_limit = event.weekly_limit
            self.premium_via = None
            self.plan_changed_at = event.effective_at
            self.downgrade_reason = event.reason
            self.failing_subscription = None
            self.grace_until = None

    def snapshot(self) -> dict[str, Any]:
        """The read model's document (what `GET /billing/subscription` shows)."""
        sub = self.current
        failure = self.last_payment_failure
        return {
            "plan": self.plan,
            "status": self.status,
            "weekly_limit": self.weekly_limit,
            "subscription_id": sub.id if sub else None,
            "stripe_status": sub.status if sub else None,
            "customer_id": self.customer_id,
            "current_period_end": sub.current_period_end if sub else None,
            "cancel_at_period_end": bool(sub and sub.cancel_at_period_end),
            "grace_until": self.grace_until,
            "downgrade_reason": self.downgrade_reason,
            "plan_changed_at": self.plan_changed_at,
            "last_payment_failure": (
                {
                    "invoice_id": failure.invoice_id,
                    "subscription_id": failure.subscription_id,
                    "amount": failure.amount,
                    "currency": failure.currency,
                    "attempt": failure.attempt,
                    "failed_at": failure.failed_at,
                    "grace_until": failure.grace_until,
                    "resolved_at": failure.resolved_at,
                }
                if failure
                else None
            ),
            "stripe_subscription_ids": sorted(self.stripe),
            "next_check_at": self.next_check_at(),
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "version": self.version,
        }
