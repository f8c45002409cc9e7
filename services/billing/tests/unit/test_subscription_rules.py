"""The Subscription aggregate's rules, without I/O: Stripe's order over arrival order, grace
after a failed renewal, increasing plan-change times, and state that is a fold of events."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from billing.adapters.webhook_secret import load_webhook_secret
from billing.app.context import catalog_from
from billing.domain.subscription import (
    AccountClosed,
    InvoiceFacts,
    Subscription,
    SubscriptionFacts,
)
from billing.settings import Settings
from contracts import PaymentFailed, PlanDowngraded, PlanUpgraded

CATALOG = catalog_from(Settings())
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(days=7)


def opened() -> Subscription:
    subscription = Subscription("user-1")
    subscription.open(CATALOG, T0)
    return subscription


def facts(status: str, at: datetime, sub: str = "sub_1", **more: object) -> SubscriptionFacts:
    return SubscriptionFacts(
        subscription_id=sub,
        as_of=at,
        source="test",
        status=status,
        **more,  # type: ignore[arg-type]
    )


def renewal(at: datetime, paid: bool, invoice_id: str = "in_2", attempt: int = 1) -> InvoiceFacts:
    return InvoiceFacts(
        invoice_id=invoice_id,
        subscription_id="sub_1",
        customer_id="cus_1",
        paid=paid,
        amount=1500,
        currency="usd",
        occurred_at=at,
        attempt=attempt,
        billing_reason="subscription_cycle",
    )


def plan_events(subscription: Subscription) -> list[object]:
    return [e for e in subscription.pending if isinstance(e, PlanUpgraded | PlanDowngraded)]


def test_at_the_same_second_the_end_of_a_subscription_wins_over_its_start() -> None:
    for order in (("active", "canceled"), ("canceled", "active")):
        subscription = opened()
        for status in order:
            subscription.observe(facts(status, T0), CATALOG, T0)
        assert subscription.plan == "free", order
        assert subscription.stripe["sub_1"].status == "canceled"


def test_plan_changes_carry_strictly_increasing_times_even_within_a_millisecond() -> None:
    subscription = opened()
    subscription.observe(facts("active", T0), CATALOG, T0)
    subscription.observe(facts("canceled", T0 + timedelta(seconds=1)), CATALOG, T0)
    subscription.observe(facts("active", T0 + timedelta(seconds=2), sub="sub_2"), CATALOG, T0)
    times = [e.effective_at for e in plan_events(subscription)]  # type: ignore[attr-defined]
    assert [type(e).__name__ for e in plan_events(subscription)] == [
        "PlanUpgraded",
        "PlanDowngraded",
        "PlanUpgraded",
    ]
    assert times == sorted(times) and len(set(times)) == 3


def test_a_first_payment_failure_gives_no_grace_a_renewal_failure_does() -> None:
    subscription = opened()
    first = InvoiceFacts(
        "in_1", "sub_1", "cus_1", False, 1500, "usd", T0, billing_reason="subscription_create"
    )
    assert subscription.payment_failed(first, CATALOG, T0, GRACE)
    failed = [e for e in subscription.pending if isinstance(e, PaymentFailed)]
    assert failed[0].grace_until is None and subscription.plan == "free"

    subscription = opened()
    subscription.observe(facts("active", T0), CATALOG, T0)
    later = T0 + timedelta(days=30)
    subscription.payment_failed(renewal(later, paid=False), CATALOG, later, GRACE)
    assert subscription.grace_until == later + GRACE and subscription.status == "past_due"
    subscription.reconcile(CATALOG, later + GRACE - timedelta(seconds=1))
    assert subscription.plan == "premium"
    subscription.reconcile(CATALOG, later + GRACE)
    assert subscription.plan == "free" and subscription.downgrade_reason == "payment_failed"


def test_a_payment_older_than_the_failure_does_not_cure_it() -> None:
    subscription = opened()
    subscription.observe(facts("active", T0), CATALOG, T0)
    failed_at = T0 + timedelta(days=30)
    subscription.payment_failed(renewal(failed_at, paid=False), CATALOG, failed_at, GRACE)
    subscription.invoice_paid(
        renewal(failed_at - timedelta(minutes=1), paid=True, invoice_id="in_1"),
        CATALOG,
        failed_at,
    )
    assert subscription.grace_until == failed_at + GRACE
    subscription.invoice_paid(renewal(failed_at + timedelta(days=1), paid=True), CATALOG, failed_at)
    assert subscription.grace_until is None and subscription.status == "active"


def test_state_is_a_fold_of_the_recorded_events() -> None:
    subscription = opened()
    subscription.observe(
        facts("active", T0, current_period_end=T0 + timedelta(days=31)), CATALOG, T0
    )
    subscription.observe(facts("active", T0 + timedelta(hours=1), sub="sub_2"), CATALOG, T0)
    failed_at = T0 + timedelta(days=31)
    subscription.payment_failed(renewal(failed_at, paid=False), CATALOG, failed_at, GRACE)
    subscription.reconcile(CATALOG, failed_at + GRACE)  # sub_2 carries premium on
    subscription.observe(
        facts("canceled", failed_at + GRACE, sub="sub_2", cancel_at_period_end=True),
        CATALOG,
        failed_at + GRACE,
    )
    replayed = Subscription.from_history("user-1", list(subscription.pending))
    assert {k: v for k, v in replayed.snapshot().items() if k != "version"} == {
        k: v for k, v in subscription.snapshot().items() if k != "version"
    }
    assert replayed.plan == "free" and replayed.downgrade_reason == "canceled"


def canceled_now(sub: str, at: datetime) -> SubscriptionFacts:
    return SubscriptionFacts(
        subscription_id=sub, as_of=at, source="api.subscriptions.cancel", status="canceled"
    )


def test_a_deleted_account_drops_premium_as_deleted_whatever_was_pending() -> None:
    later = T0 + timedelta(days=3)
    canceling = opened()
    canceling.observe(facts("active", T0, current_period_end=T0 + timedelta(days=30)), CATALOG, T0)
    asked = facts("active", T0 + timedelta(hours=1), cancel_at_period_end=True)
    canceling.observe(asked, CATALOG, T0)
    in_grace = opened()
    in_grace.observe(facts("active", T0), CATALOG, T0)
    in_grace.payment_failed(renewal(T0 + timedelta(days=1), paid=False), CATALOG, T0, GRACE)
    for subscription in (canceling, in_grace):
        assert subscription.plan == "premium"
        assert [s.id for s in subscription.live_stripe_subscriptions()] == ["sub_1"]
        ended = [canceled_now("sub_1", later)]
        assert subscription.close_for_deleted_account(ended, CATALOG, later)
        downgrades = [e for e in subscription.pending if isinstance(e, PlanDowngraded)]
        assert [d.reason for d in downgrades] == ["deleted"]
        assert subscription.plan == "free" and subscription.status == "canceled"
        assert subscription.grace_until is None and subscription.next_check_at() is None
        assert subscription.live_stripe_subscriptions() == []
        # once: a second deletion changes nothing
        pending = len(subscription.pending)
        assert not subscription.close_for_deleted_account([], CATALOG, later)
        assert len(subscription.pending) == pending


def test_a_deleted_account_ends_every_live_subscription_without_a_passing_upgrade() -> None:
    subscription = opened()
    subscription.observe(facts("active", T0), CATALOG, T0)
    subscription.observe(facts("active", T0 + timedelta(hours=1), sub="sub_2"), CATALOG, T0)
    ahead = T0 + timedelta(hours=2)  # Stripe's clock said more than ours says now
    subscription.observe(facts("past_due", ahead, sub="sub_2"), CATALOG, T0)
    before = len(plan_events(subscription))
    now = T0 + timedelta(hours=1, minutes=30)
    ended = [canceled_now(s.id, now) for s in subscription.live_stripe_subscriptions()]
    assert [f.subscription_id for f in ended] == ["sub_1", "sub_2"]
    subscription.close_for_deleted_account(ended, CATALOG, now)
    changes = plan_events(subscription)[before:]
    assert [type(e).__name__ for e in changes] == ["PlanDowngraded"]
    assert {s.status for s in subscription.stripe.values()} == {"canceled"}
    # the view shows what was ended; state is still a fold of the events
    assert subscription.snapshot()["stripe_status"] == "canceled"
    replayed = Subscription.from_history("user-1", list(subscription.pending))
    assert replayed.snapshot() | {"version": 0} == subscription.snapshot() | {"version": 0}
    assert replayed.closed and replayed.status == "canceled"


def test_a_closed_account_is_never_upgraded_and_what_turns_up_is_left_to_end() -> None:
    subscription = opened()
    later = T0 + timedelta(hours=1)
    assert subscription.close_for_deleted_account([], CATALOG, later)
    # a checkout opened before the deletion, paid after it, in whatever order Stripe says so
    paid = InvoiceFacts(
        invoice_id="in_9", subscription_id="sub_9", customer_id="cus_9", paid=True,
        amount=1500, currency="usd", occurred_at=later, billing_reason="subscription_create",
    )  # fmt: skip
    subscription.invoice_paid(paid, CATALOG, later)
    subscription.observe(facts("active", later, sub="sub_9"), CATALOG, later)
    failed = replace(paid, invoice_id="in_10", subscription_id="sub_10", paid=False)
    assert not subscription.payment_failed(failed, CATALOG, later, GRACE)
    assert subscription.plan == "free" and subscription.status == "canceled"
    assert not [e for e in subscription.pending if isinstance(e, PlanUpgraded | PaymentFailed)]
    # both are live and for the caller to end at once; once ended, nothing brings them back
    assert [s.id for s in subscription.live_stripe_subscriptions()] == ["sub_9", "sub_10"]
    subscription.ended_at_request([canceled_now("sub_9", T0), canceled_now("sub_10", later)])
    assert subscription.live_stripe_subscriptions() == []
    assert subscription.stripe["sub_9"].status == "canceled"  # not older news than "active"
    assert not subscription.observe(facts("active", later + GRACE, sub="sub_9"), CATALOG, later)
    subscription.reconcile(CATALOG, later + GRACE)
    assert subscription.plan == "free" and not plan_events(subscription)[1:]
    with pytest.raises(AccountClosed) as refused:
        subscription.ensure_can_buy("premium")
    assert refused.value.status == 409 and refused.value.code == "account_closed"
    replayed = Subscription.from_history("user-1", list(subscription.pending))
    assert replayed.snapshot() | {"version": 0} == subscription.snapshot() | {"version": 0}


def test_the_development_webhook_secret_is_generated_once_and_kept_private(
    tmp_path: Path,
) -> None:
    assert load_webhook_secret("whsec_from_env", tmp_path) == "whsec_from_env"
    first = load_webhook_secret(None, tmp_path)
    assert first.startswith("whsec_") and len(first) > 30
    assert load_webhook_secret(None, tmp_path) == first
    path = tmp_path / "billing" / "stripe-webhook-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
