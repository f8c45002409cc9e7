"""A user deletes their account (auth's UserDeleted, on the real broker): billing cancels
their Stripe subscriptions at once through the real `stripe` library against a local server
that speaks Stripe's wire format, drops premium with reason "deleted", and does it once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
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
    assert await harness.billing.lapses.check_plans() == 0


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


# --- a closed account: checkouts left open, and subscriptions that turn up afterwards -----


async def registered_user(harness: Harness) -> str:
    user = str(uuid.uuid4())
    registered = UserRegistered(
        user_id=user, email=f"{user[:8]}@example.com", name="N", registered_at=harness.clock.now
    )
    await harness.handled(await harness.publish(registered, user))
    return user


async def deleted_user(harness: Harness) -> str:
    """A free user who has deleted their account (billing has closed it)."""
    user = await registered_user(harness)
    await harness.handled(await delete_account(harness, user))
    assert (await harness.view(user))["status"] == "canceled"
    return user


async def published_for(harness: Harness, user: str) -> list[str]:
    """What billing will have published about the user: its outbox, written in the same
    transaction as the change (so final once the request that made it has answered)."""
    rows = await harness.db["outbox"].find({"envelope.payload.user_id": user}).to_list()
    return sorted(row["event_type"] for row in rows)


def stripe_paid_a_checkout(
    user: str, sub: str, cus: str, at: datetime
) -> dict[str, dict[str, Any]]:
    """What Stripe sends when a subscription checkout is paid."""
    return {
        "checkout.session.completed": checkout_completed(user, sub, cus, at),
        "customer.subscription.created": subscription_changed(
            "customer.subscription.created",
            user,
            sub,
            cus,
            "active",
            at,
            at,
            at + timedelta(days=30),
        ),
        "invoice.paid": invoice(
            "invoice.paid", user, sub, cus, at, billing_reason="subscription_create"
        ),
    }


@pytest.mark.parametrize(
    "first", ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
)
async def test_a_checkout_paid_after_the_deletion_is_canceled_at_once_and_upgrades_nothing(
    harness: Harness, fake_stripe: FakeStripe, first: str
) -> None:
    user = await deleted_user(harness)
    harness.clock.advance(minutes=2)  # the customer pays a checkout they had left open
    tag = uuid.uuid4().hex[:12]
    sub, cus = f"sub_{tag}", f"cus_{tag}"
    events = stripe_paid_a_checkout(user, sub, cus, harness.clock.now)
    order = [first, *(kind for kind in events if kind != first)]  # whichever Stripe sends first

    answers = [await harness.deliver(events[kind]) for kind in order]

    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    outcomes = [a.json()["outcome"] for a in answers]
    assert outcomes[0] == "account_closed" and outcomes.count("account_closed") == 1
    cancels = fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")
    assert len(cancels) == 1  # at once, by the first event; the later ones find it ended
    assert cancels[0]["form"]["invoice_now"] == "false"
    assert cancels[0]["form"]["prorate"] == "false"
    assert sub in fake_stripe.canceled
    assert await published_for(harness, user) == []  # no PlanUpgraded, nothing at all
    view = await harness.view(user)
    assert view["plan"] == "free" and view["status"] == "canceled" and view["weekly_limit"] == 2
    assert view["subscription_id"] == sub
    stored = await harness.db["subscriptions"].find_one({"_id": user})
    assert stored["stripe_status"] == "canceled" and stored["next_check_at"] is None
    recorded = await harness.db["events"].find_one(
        {"aggregate_id": user, "payload.subscription_id": sub, "payload.status": "canceled"}
    )
    assert recorded["payload"]["source"] == "api.subscriptions.cancel"
    assert recorded["causation_id"] == events[first]["id"]
    processed = await harness.db["stripe_events"].find_one({"_id": events[first]["id"]})
    assert processed["outcome"] == "account_closed" and processed["user_id"] == user
    # and the account stays closed to the periodic check
    harness.clock.advance(days=40)
    assert await harness.billing.lapses.check_plans() == 0
    assert await published_for(harness, user) == []


@pytest.mark.parametrize(
    ("status", "failures"),
    [
        (500, 3),  # more than the library's own 2 retries
        (429, 1),  # not retried by the library
    ],
)
async def test_a_late_cancel_that_stripe_fails_answers_5xx_so_stripe_sends_the_event_again(
    harness: Harness, fake_stripe: FakeStripe, status: int, failures: int
) -> None:
    user = await deleted_user(harness)
    tag = uuid.uuid4().hex[:12]
    sub, cus = f"sub_{tag}", f"cus_{tag}"
    completed = checkout_completed(user, sub, cus, harness.clock.now)
    fake_stripe.fail_status, fake_stripe.fail_next = status, failures

    refused = await harness.deliver(completed)

    assert refused.status_code == 502, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "payment_provider_error"
    # nothing kept, not even the event's id: Stripe's retry of it is handled afresh
    assert await harness.db["stripe_events"].find_one({"_id": completed["id"]}) is None
    stored = await harness.db["subscriptions"].find_one({"_id": user})
    assert sub not in stored["stripe_subscription_ids"]
    assert sub not in fake_stripe.canceled

    again = await harness.deliver(completed)  # Stripe's retry of the same event

    assert again.status_code == 200 and again.json()["outcome"] == "account_closed"
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{sub}")) == failures + 1
    assert sub in fake_stripe.canceled
    assert await published_for(harness, user) == []
    assert (await harness.view(user))["status"] == "canceled"


@pytest.mark.parametrize(
    "case", ["left open", "left open, Stripe busy at first", "paid just before the deletion"]
)
async def test_deletion_expires_the_checkouts_left_open_at_stripe(
    harness: Harness, fake_stripe: FakeStripe, case: str
) -> None:
    user = await registered_user(harness)
    opened = await harness.client.post(
        "/billing/checkout", json={"plan": "premium"}, headers=harness.auth(user)
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()["session_id"]
    paid_sub = fake_stripe.pay(session) if case.startswith("paid") else None
    if case.endswith("busy at first"):
        fake_stripe.fail_status, fake_stripe.fail_next = 429, 1
    failed_before = consumed("failed")

    await harness.handled(await delete_account(harness, user))

    expiries = fake_stripe.calls("POST", f"/v1/checkout/sessions/{session}/expire")
    assert len(expiries) == (2 if case.endswith("busy at first") else 1)
    if case.endswith("busy at first"):
        assert consumed("failed") - failed_before >= 1  # the broker delivered it again
    row = await harness.db["checkouts"].find_one({"_id": session})
    assert row["ended_reason"] == "account_deleted"
    if paid_sub is None:
        assert fake_stripe.sessions[session]["status"] == "expired"
        assert row["status"] == "expired"
        with pytest.raises(AssertionError, match="would not take a session expired"):
            fake_stripe.pay(session)  # the customer can no longer pay it
        assert not [r for r in fake_stripe.requests if r["method"] == "DELETE"]
    else:
        # Stripe would not expire a paid session; what it started is ended with the rest,
        # before its webhooks even arrive
        assert fake_stripe.sessions[session]["status"] == "complete"
        assert row["status"] == "complete"
        assert paid_sub in fake_stripe.canceled
        for event in stripe_paid_a_checkout(user, paid_sub, "cus_x", harness.clock.now).values():
            late = await harness.deliver(event)
            assert late.status_code == 200 and late.json()["outcome"] != "account_closed"
        assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{paid_sub}")) == 1
        stored = await harness.db["subscriptions"].find_one({"_id": user})
        assert stored["stripe_status"] == "canceled" and stored["subscription_id"] == paid_sub
    assert await published_for(harness, user) == []
    view = await harness.view(user)
    assert view["plan"] == "free" and view["status"] == "canceled"


async def test_a_closed_account_cannot_start_a_checkout(
    harness: Harness, fake_stripe: FakeStripe
) -> None:
    user = await deleted_user(harness)
    # a token still valid in the minutes after the deletion
    refused = await harness.client.post(
        "/billing/checkout", json={"plan": "premium"}, headers=harness.auth(user)
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "account_closed" and problem["status"] == 409
    assert problem["detail"]
    assert not fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert await harness.db["checkouts"].count_documents({"user_id": user}) == 0
