"""Stripe webhooks on the real broker and Mongo-wire server: signature checks, exactly
once per Stripe event id, Stripe's order rather than arrival order, grace after a failed
renewal, cancel at period end."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from billingtest import (
    Harness,
    checkout_completed,
    invoice,
    signature,
    subscription_changed,
)
from servicekit.testing import put_on_bus


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def ids() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:12]
    return str(uuid.uuid4()), f"sub_{tag}", f"cus_{tag}"


async def test_the_same_webhook_ten_times_upgrades_once_and_books_one_payment(
    harness: Harness,
) -> None:
    user, sub, cus = ids()
    now = harness.clock.now
    paid = invoice(
        "invoice.paid", user, sub, cus, now, billing_reason="subscription_create", legacy=True
    )
    completed = checkout_completed(user, sub, cus, now)

    first = await asyncio.gather(*(harness.deliver(paid) for _ in range(5)))
    assert all(r.status_code == 200 for r in first), [r.text for r in first]
    for _ in range(3):  # and again, one after another, like Stripe's retries
        assert (await harness.deliver(paid)).status_code == 200
    outcomes = await asyncio.gather(harness.deliver(completed), harness.deliver(completed))
    assert all(r.status_code == 200 for r in outcomes)
    outcomes_seen = [r.json()["outcome"] for r in first]
    assert outcomes_seen.count("applied") == 1 and outcomes_seen.count("duplicate") == 4

    assert await harness.db["payments"].count_documents({}) == 1
    row = await harness.db["payments"].find_one({})
    assert row["status"] == "paid" and row["amount"] == 1500 and row["currency"] == "usd"
    assert row["invoice_id"] == paid["data"]["object"]["id"]
    assert row["subscription_id"] == sub and row["customer_id"] == cus
    assert row["payment_intent_id"].startswith("pi_") and row["charge_id"].startswith("ch_")
    assert row["user_id"] == user
    assert await harness.db["stripe_events"].count_documents({}) == 2

    upgraded = await harness.published("PlanUpgraded", user)
    assert upgraded[0]["plan"] == "premium" and upgraded[0]["weekly_limit"] == 20
    assert upgraded[0]["subscription_id"] == sub
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["status"] == "active"
    assert view["weekly_limit"] == 20 and view["subscription_id"] == sub
    assert view["next_billing_date"] == view["current_period_end"] is not None
    # nothing more arrives: one upgrade however often Stripe retried
    await asyncio.sleep(0.5)
    assert len(harness.bus.of("PlanUpgraded", user)) == 1
    upgrades = await harness.db["outbox"].count_documents(
        {"event_type": "PlanUpgraded", "envelope.payload.user_id": user}
    )
    assert upgrades == 1


async def test_a_deletion_stamped_later_but_delivered_first_wins(harness: Harness) -> None:
    """subscription.deleted (Stripe time t+60) arrives before the checkout.session.completed
    (t) of the same, older subscription: the user ends on free and never saw premium."""
    user, sub, cus = ids()
    t = harness.clock.now - timedelta(minutes=5)
    deleted = subscription_changed(
        "customer.subscription.deleted",
        user,
        sub,
        cus,
        "canceled",
        t + timedelta(seconds=60),
        t,
        t + timedelta(days=30),
    )
    completed = checkout_completed(user, sub, cus, t)
    assert (await harness.deliver(deleted)).status_code == 200
    assert (await harness.deliver(completed)).status_code == 200
    # and the first invoice's payment, also older news, books money but grants nothing
    paid = invoice("invoice.paid", user, sub, cus, t, billing_reason="subscription_create")
    assert (await harness.deliver(paid)).status_code == 200

    view = await harness.view(user)
    assert view["plan"] == "free" and view["weekly_limit"] == 2
    stream = await harness.db["events"].find({"aggregate_id": user}).to_list()
    assert not [e for e in stream if e["event_type"] in ("PlanUpgraded", "PlanDowngraded")]
    assert await harness.db["payments"].count_documents({"user_id": user}) == 1


async def test_an_old_subscriptions_deletion_after_a_newer_checkout_keeps_premium(
    harness: Harness,
) -> None:
    user, old, cus = ids()
    new = old + "b"
    t = harness.clock.now - timedelta(hours=1)
    assert (await harness.deliver(checkout_completed(user, new, cus, t))).status_code == 200
    await harness.published("PlanUpgraded", user)
    deleted_old = subscription_changed(
        "customer.subscription.deleted",
        user,
        old,
        cus,
        "canceled",
        t - timedelta(days=1),
        t - timedelta(days=31),
        t - timedelta(days=1),
    )
    assert (await harness.deliver(deleted_old)).status_code == 200
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["subscription_id"] == new


async def test_older_updates_never_undo_newer_ones(harness: Harness) -> None:
    user, sub, cus = ids()
    t = harness.clock.now - timedelta(hours=2)
    end = t + timedelta(days=30)
    canceled_later = subscription_changed(
        "customer.subscription.updated",
        user,
        sub,
        cus,
        "active",
        t + timedelta(minutes=10),
        t,
        end,
        cancel_at_period_end=True,
    )
    created_earlier = subscription_changed(
        "customer.subscription.created", user, sub, cus, "active", t, t, end, legacy_period=True
    )
    assert (await harness.deliver(canceled_later)).status_code == 200
    assert (await harness.deliver(created_earlier)).status_code == 200
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["cancel_at_period_end"] is True
    assert view["next_billing_date"] is None
    assert view["current_period_end"].startswith(end.date().isoformat())

    # deletion at the period end: down at once, reason "canceled"
    deleted = subscription_changed(
        "customer.subscription.deleted",
        user,
        sub,
        cus,
        "canceled",
        end,
        t,
        end,
        cancel_at_period_end=True,
    )
    assert (await harness.deliver(deleted)).status_code == 200
    downgraded = await harness.published("PlanDowngraded", user)
    assert downgraded[0]["reason"] == "canceled" and downgraded[0]["weekly_limit"] == 2
    upgraded = harness.bus.of("PlanUpgraded", user)
    # consumers keep the newest by effective_at: the downgrade must be later
    assert at(downgraded[0]["effective_at"]) > at(upgraded[0]["effective_at"])
    assert (await harness.view(user))["plan"] == "free"


async def test_rejected_webhooks_answer_400_and_change_nothing(harness: Harness) -> None:
    user, sub, cus = ids()
    event = checkout_completed(user, sub, cus, harness.clock.now)
    payload = json.dumps(event)
    before = await harness.state()
    stale = int(time.time()) - 3600
    tampered = payload.replace('"premium"', '"premium "')
    cases = {
        "no header": await harness.client.post(
            "/billing/webhook", content=payload, headers={"content-type": "application/json"}
        ),
        "bad signature": await harness.deliver(payload, header="t=123,v1=" + "0" * 64),
        "garbage header": await harness.deliver(payload, header="not a signature"),
        "tampered body": await harness.deliver(
            tampered,
            header=signature(payload),  # signed the original, sent another
        ),
        "stale timestamp": await harness.deliver(payload, timestamp=stale),
        "future timestamp": await harness.deliver(payload, timestamp=int(time.time()) + 3600),
        "another secret": await harness.deliver(payload, secret="whsec_someone_else"),
        "non-JSON body": await harness.deliver("this is not json {"),
        "JSON but not an event": await harness.deliver(json.dumps([1, 2, 3])),
        "event without object": await harness.deliver(json.dumps({"id": "evt_1", "type": "x"})),
        "invalid UTF-8": await harness.client.post(
            "/billing/webhook",
            content=b"\xff\xfe{}",
            headers={"stripe-signature": signature("{}"), "content-type": "application/json"},
        ),
    }
    for label, response in cases.items():
        assert response.status_code == 400, (label, response.text)
        assert response.headers["content-type"] == "application/problem+json", label
        assert response.json()["code"] in ("invalid_signature", "invalid_payload"), label
    assert cases["stale timestamp"].json()["code"] == "invalid_signature"
    assert cases["future timestamp"].json()["code"] == "invalid_signature"
    assert cases["non-JSON body"].json()["code"] == "invalid_payload"
    assert await harness.state() == before
    # the genuine article still goes through afterwards
    assert (await harness.deliver(event)).status_code == 200
    assert (await harness.view(user))["plan"] == "premium"


async def test_unknown_event_types_are_acknowledged_and_ignored(harness: Harness) -> None:
    from billingtest import stripe_event

    event = stripe_event(
        "customer.created", {"id": "cus_x", "object": "customer"}, harness.clock.now
    )
    response = await harness.deliver(event)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"


async def test_failed_renewal_keeps_premium_through_the_grace_window_then_drops(
    harness: Harness,
) -> None:
    user, sub, cus = ids()
    t = harness.clock.now - timedelta(days=30)
    assert (await harness.deliver(checkout_completed(user, sub, cus, t))).status_code == 200
    await harness.published("PlanUpgraded", user)

    failed = invoice("invoice.payment_failed", user, sub, cus, harness.clock.now)
    assert (await harness.deliver(failed)).status_code == 200
    payment_failed = (await harness.published("PaymentFailed", user))[0]
    assert payment_failed["invoice_id"] == failed["data"]["object"]["id"]
    grace_days = harness.billing.ctx.settings.payment_grace_seconds / 86400
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["status"] == "past_due"
    assert at(view["grace_until"]) == at(payment_failed["grace_until"])
    assert view["last_payment_failure"]["amount"] == 1500

    # Stripe retries and fails again: the window still runs from the first failure
    harness.clock.advance(days=3)
    again = invoice(
        "invoice.payment_failed",
        user,
        sub,
        cus,
        harness.clock.now,
        attempt=2,
        invoice_id=failed["data"]["object"]["id"],
    )
    assert (await harness.deliver(again)).status_code == 200
    second = (await harness.published("PaymentFailed", user, count=2))[1]
    assert second["grace_until"] == payment_failed["grace_until"] and second["attempt"] == 2
    assert await harness.db["payments"].count_documents({"user_id": user, "status": "failed"}) == 2

    assert await harness.billing.lapses.check_plans() == 0  # still inside the window
    harness.clock.advance(days=grace_days - 3 + 0.01)
    assert await harness.billing.lapses.check_plans() == 1
    downgraded = (await harness.published("PlanDowngraded", user))[0]
    assert downgraded["reason"] == "payment_failed" and downgraded["plan"] == "free"
    assert (await harness.view(user))["plan"] == "free"

    # the customer pays at last: premium again, the failure resolved
    paid = invoice(
        "invoice.paid", user, sub, cus, harness.clock.now, invoice_id=failed["data"]["object"]["id"]
    )
    assert (await harness.deliver(paid)).status_code == 200
    await harness.published("PlanUpgraded", user, count=2)
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["status"] == "active"
    assert view["last_payment_failure"]["resolved_at"] is not None


async def test_a_late_failure_older_than_a_payment_starts_no_grace(harness: Harness) -> None:
    user, sub, cus = ids()
    t = harness.clock.now - timedelta(hours=1)
    assert (await harness.deliver(checkout_completed(user, sub, cus, t))).status_code == 200
    paid = invoice("invoice.paid", user, sub, cus, t + timedelta(minutes=10))
    failed = invoice(
        "invoice.payment_failed",
        user,
        sub,
        cus,
        t + timedelta(minutes=5),
        invoice_id=paid["data"]["object"]["id"],
    )
    assert (await harness.deliver(paid)).status_code == 200
    assert (await harness.deliver(failed)).status_code == 200
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["status"] == "active"
    assert view["grace_until"] is None and view["last_payment_failure"] is None


async def test_events_find_their_user_by_customer_when_metadata_is_missing(
    harness: Harness,
) -> None:
    user, sub, cus = ids()
    t = harness.clock.now - timedelta(hours=1)
    assert (await harness.deliver(checkout_completed(user, sub, cus, t))).status_code == 200
    bare = subscription_changed(
        "customer.subscription.updated",
        None,
        sub,
        cus,
        "active",
        t + timedelta(minutes=1),
        t,
        t + timedelta(days=30),
        cancel_at_period_end=True,
    )
    assert (await harness.deliver(bare)).json()["outcome"] == "applied"
    assert (await harness.view(user))["cancel_at_period_end"] is True
    stranger = subscription_changed(
        "customer.subscription.updated",
        None,
        "sub_nobody",
        "cus_nobody",
        "active",
        t,
        t,
        t + timedelta(days=30),
    )
    assert (await harness.deliver(stranger)).json()["outcome"] == "unmatched"


async def test_registration_opens_a_free_subscription_once(harness: Harness) -> None:
    from contracts import EventEnvelope, UserRegistered

    user = str(uuid.uuid4())
    event = UserRegistered(
        user_id=user, email="a@example.com", name="Ada", registered_at=harness.clock.now
    )
    envelope = EventEnvelope.wrap(
        event, producer="auth", aggregate_type="user", aggregate_id=user, aggregate_version=1
    )
    for _ in range(2):
        await put_on_bus(harness.rt, envelope)

    async def opened() -> Any:
        doc = await harness.db["subscriptions"].find_one({"_id": user})
        return doc if doc and doc["status"] == "active" else None

    from servicekit.testing import eventually

    doc = await eventually(opened)
    assert doc["plan"] == "free" and doc["weekly_limit"] == 2
    await asyncio.sleep(0.3)
    assert await harness.db["events"].count_documents({"aggregate_id": user}) == 1
