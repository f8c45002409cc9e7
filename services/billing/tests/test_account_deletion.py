"""A user deletes their account (auth's UserDeleted, on the real broker): billing cancels
their Stripe subscriptions at once through the real `stripe` library against a local server
that speaks Stripe's wire format, drops premium with reason "deleted", and does it once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aio_pika
import pytest
from billingtest import (
    FakeStripe,
    Harness,
    checkout_completed,
    invoice,
    subscription_changed,
)
from contracts import EventEnvelope, UserDeleted, UserRegistered
from servicekit.metrics import REGISTRY
from servicekit.testing import eventually


@pytest.fixture
def more_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings_overrides(fake_stripe: FakeStripe, more_settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "stripe_api_key": "sk_test_fake_key",
        "stripe_price_premium": "price_premium_monthly",
        "stripe_api_base": fake_stripe.url,
    } | more_settings


def consumed(outcome: str) -> float:
    """billing's count of UserDeleted messages by outcome (process-wide: compare deltas)."""
    value = REGISTRY.get_sample_value(
        "events_consumed_total",
        {"service": "billing", "consumer": "main", "event_type": "UserDeleted", "outcome": outcome},
    )
    return value or 0.0


async def premium_user(harness: Harness) -> tuple[str, str, str]:
    """A user who paid for premium through Stripe Checkout (as Stripe's webhooks said)."""
    tag = uuid.uuid4().hex[:12]
    user, sub, cus = str(uuid.uuid4()), f"sub_{tag}", f"cus_{tag}"
    now = harness.clock.now - timedelta(minutes=5)
    for event in (
        checkout_completed(user, sub, cus, now),
        invoice("invoice.paid", user, sub, cus, now, billing_reason="subscription_create"),
    ):
        assert (await harness.deliver(event)).status_code == 200
    await harness.published("PlanUpgraded", user)
    return user, sub, cus


async def delete_account(harness: Harness, user: str) -> EventEnvelope:
    return await harness.publish(UserDeleted(user_id=user, deleted_at=harness.clock.now), user)


async def downgrades_in_outbox(harness: Harness, user: str) -> int:
    return int(
        await harness.db["outbox"].count_documents(
            {"event_type": "PlanDowngraded", "envelope.payload.user_id": user}
        )
    )


async def test_a_premium_users_deletion_cancels_at_stripe_at_once_and_downgrades(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user, sub, cus = await premium_user(harness)
    envelope = await delete_account(harness, user)

    downgraded = (await harness.published("PlanDowngraded", user))[0]
    assert downgraded["reason"] == "deleted"
    assert downgraded["plan"] == "free" and downgraded["weekly_limit"] == 2
    cancels = fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")
    assert len(cancels) == 1
    assert cancels[0]["authorization"] == "Bearer sk_test_fake_key"
    # at once, with no final invoice and no proration credit
    assert cancels[0]["form"]["invoice_now"] == "false"
    assert cancels[0]["form"]["prorate"] == "false"
    assert cancels[0]["form"]["cancellation_details[comment]"]
    # not the cancel-at-period-end update
    assert not fake_stripe.calls("POST", f"/v1/subscriptions/{sub}")

    view = await harness.db["subscriptions"].find_one({"_id": user})
    assert view["status"] == "canceled" and view["plan"] == "free"
    assert view["subscription_id"] == sub and view["stripe_status"] == "canceled"
    assert view["downgrade_reason"] == "deleted" and view["closed_at"] is not None
    assert view["next_check_at"] is None
    stream = await harness.db["events"].find({"aggregate_id": user}).to_list()
    caused = [e for e in stream if e.get("causation_id") == str(envelope.event_id)]
    assert [e["event_type"] for e in caused] == [
        "StripeSubscriptionObserved",
        "PlanDowngraded",
        "SubscriptionClosed",
    ]
    # the ledger keeps the one payment; the cancel is no payment
    assert await harness.db["payments"].count_documents({"user_id": user}) == 1

    # Stripe's own webhook for the cancel comes later: nothing applies twice
    deleted = subscription_changed(
        "customer.subscription.deleted",
        user,
        sub,
        cus,
        "canceled",
        harness.clock.now + timedelta(seconds=2),
        harness.clock.now - timedelta(minutes=5),
        harness.clock.now + timedelta(days=30),
    )
    answer = await harness.deliver(deleted)
    assert answer.status_code == 200 and answer.json()["outcome"] == "no_change"
    assert await downgrades_in_outbox(harness, user) == 1
    assert (await harness.db["subscriptions"].find_one({"_id": user}))["status"] == "canceled"
    assert await harness.billing.check_plans() == 0


@pytest.mark.parametrize("state", ["canceling at period end", "in a payment grace window"])
async def test_a_subscription_canceling_or_past_due_is_also_canceled_at_once(
    harness: Harness, fake_stripe: FakeStripe, state: str
) -> None:
    user, sub, cus = await premium_user(harness)
    t = harness.clock.now - timedelta(minutes=5)
    if state == "canceling at period end":  # the user asked first, through billing's API
        asked = await harness.client.post(
            "/billing/subscription/cancel", headers=harness.auth(user)
        )
        assert asked.status_code == 200, asked.text
    else:  # a renewal failed
        failed = invoice("invoice.payment_failed", user, sub, cus, t + timedelta(minutes=1))
        assert (await harness.deliver(failed)).status_code == 200
    view = await harness.view(user)
    assert view["plan"] == "premium"
    assert view["cancel_at_period_end"] or view["status"] == "past_due"

    await delete_account(harness, user)
    downgraded = (await harness.published("PlanDowngraded", user))[0]
    # not "canceled" nor "payment_failed": the account is gone
    assert downgraded["reason"] == "deleted"
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")) == 1
    view = await harness.view(user)
    assert view["plan"] == "free" and view["status"] == "canceled"
    assert view["grace_until"] is None


async def test_a_redelivered_or_repeated_deletion_cancels_once(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user, sub, _ = await premium_user(harness)
    duplicates_before = consumed("duplicate")
    handled_before = consumed("handled")
    envelope = await delete_account(harness, user)
    for _ in range(2):  # the same message again: a relay that crashed before marking it sent
        await harness.republish(envelope)
    # and another UserDeleted for the same user (another event id)
    await delete_account(harness, user)

    async def all_taken() -> bool:
        return (
            consumed("handled") - handled_before == 2
            and consumed("duplicate") - duplicates_before == 2
        )

    await eventually(all_taken, message="4 UserDeleted deliveries consumed")
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")) == 1
    assert await downgrades_in_outbox(harness, user) == 1
    closed = await harness.db["events"].count_documents(
        {"aggregate_id": user, "event_type": "SubscriptionClosed"}
    )
    assert closed == 1
    await harness.published("PlanDowngraded", user)
    assert len(harness.bus.of("PlanDowngraded", user)) == 1


async def test_users_without_a_live_subscription_cost_no_stripe_call(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    # a user billing never heard of, a registered free user, and one whose premium has ended
    stranger = str(uuid.uuid4())
    free = str(uuid.uuid4())
    registered = await harness.publish(
        UserRegistered(
            user_id=free, email="f@example.com", name="F", registered_at=harness.clock.now
        ),
        free,
    )
    await harness.handled(registered)
    ended, sub, cus = await premium_user(harness)
    t = harness.clock.now
    gone = subscription_changed(
        "customer.subscription.deleted", ended, sub, cus, "canceled", t, t - timedelta(days=30), t
    )
    assert (await harness.deliver(gone)).status_code == 200
    await harness.published("PlanDowngraded", ended)
    requests_before = len(fake_stripe.requests)

    for user in (stranger, free, ended):
        await harness.handled(await delete_account(harness, user))

    assert len(fake_stripe.requests) == requests_before
    assert not fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")
    assert await harness.db["events"].count_documents({"aggregate_id": stranger}) == 0
    assert await harness.db["subscriptions"].find_one({"_id": stranger}) is None
    for user in (free, ended):
        plan_events = await harness.db["outbox"].count_documents(
            {"envelope.payload.user_id": user, "event_type": "PlanDowngraded"}
        )
        assert plan_events == (1 if user == ended else 0)  # only the earlier, Stripe's one
        view = await harness.db["subscriptions"].find_one({"_id": user})
        assert view["plan"] == "free" and view["status"] == "canceled"


@pytest.mark.parametrize(
    ("status", "failures"),
    [
        # the library retries a 500 twice itself (max_network_retries=2): 3 failures make the
        # first delivery fail, so only the broker's redelivery gets through
        (500, 3),
        # a 429 is not retried by the library: each failure is a delivery of its own
        (429, 2),
    ],
)
async def test_a_failing_stripe_is_retried_by_redelivery_until_the_cancel_goes_through(
    harness: Harness, fake_stripe: FakeStripe, status: int, failures: int
) -> None:
    user, sub, _ = await premium_user(harness)
    failed_before = consumed("failed")
    fake_stripe.fail_status, fake_stripe.fail_next = status, failures
    envelope = await delete_account(harness, user)

    downgraded = (await harness.published("PlanDowngraded", user))[0]
    assert downgraded["reason"] == "deleted"
    await harness.handled(envelope)
    calls = fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")
    assert len(calls) == failures + 1
    assert consumed("failed") - failed_before >= 1  # the broker redelivered after a failure
    assert sub in fake_stripe.canceled
    assert (await harness.view(user))["status"] == "canceled"
    assert await downgrades_in_outbox(harness, user) == 1


async def test_stripe_not_knowing_the_subscription_counts_as_canceled(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user, sub, _ = await premium_user(harness)
    fake_stripe.missing.add(sub)  # canceled or deleted at Stripe already (the dashboard)
    failed_before = consumed("failed")
    envelope = await delete_account(harness, user)

    downgraded = (await harness.published("PlanDowngraded", user))[0]
    assert downgraded["reason"] == "deleted"
    await harness.handled(envelope)
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")) == 1
    assert consumed("failed") == failed_before
    view = await harness.db["subscriptions"].find_one({"_id": user})
    assert view["status"] == "canceled" and view["stripe_status"] == "canceled"


async def parked(harness: Harness) -> int:
    consumer = next(c for c in harness.rt.consumers.consumers if c.event_type == "UserDeleted")
    connection = await aio_pika.connect(harness.rt.settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(consumer.parked_queue_name, passive=True)
        return int(queue.declaration_result.message_count or 0)


@pytest.mark.parametrize("more_settings", [{"delivery_limit": 2, "stripe_max_network_retries": 0}])
async def test_a_cancel_stripe_keeps_refusing_is_parked_and_the_user_stays_as_is(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user, sub, _ = await premium_user(harness)
    fake_stripe.fail_next = 1000
    await delete_account(harness, user)

    async def is_parked() -> bool:
        return await parked(harness) == 1

    await eventually(is_parked, message="UserDeleted parked after the delivery limit")
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")) >= 2
    # nothing was recorded: the plan is what Stripe still charges for, the message waits
    # in the parked queue for an operator to replay once Stripe answers
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["status"] == "active"
    assert await downgrades_in_outbox(harness, user) == 0
