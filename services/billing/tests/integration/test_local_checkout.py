"""Checkout without a Stripe key: the local checkout page, Pay and Decline delivering signed
Stripe-format webhooks through the same handler, cancel at period end, cancel at once when
the account is deleted, the figures."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from billing.adapters import local_stripe
from billing.adapters.checkouts import LOCAL_ID
from billing.app.ports import PaymentsUnavailable
from billingtest import Harness, checkout_completed
from contracts import EventEnvelope, UserDeleted, UserRegistered


async def checkout(harness: Harness, user: str, plan: str = "premium") -> dict[str, str]:
    response = await harness.client.post(
        "/billing/checkout", json={"plan": plan}, headers=harness.auth(user)
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def test_pay_upgrades_at_once_through_a_signed_webhook(harness: Harness) -> None:
    user = str(uuid.uuid4())
    started = await checkout(harness, user)
    assert LOCAL_ID.match(started["session_id"])
    assert started["checkout_url"] == f"/billing/local-checkout/{started['session_id']}"
    # a double click gives the same checkout
    assert await checkout(harness, user) == started

    page = await harness.client.get(started["checkout_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "15.00 USD" in page.text and "20 interviews a week" in page.text
    actions = re.findall(r'<form method="post" action="([^"]+)"', page.text)
    assert actions == [started["checkout_url"] + "/pay", started["checkout_url"] + "/decline"]

    paid = await harness.client.post(actions[0])
    assert paid.status_code == 303 and paid.headers["location"] == started["checkout_url"]
    upgraded = (await harness.published("PlanUpgraded", user))[0]
    assert upgraded["plan"] == "premium" and upgraded["weekly_limit"] == 20
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["weekly_limit"] == 20
    assert view["subscription_id"].startswith("sub_local_")
    period_end = datetime.fromisoformat(view["next_billing_date"])
    assert timedelta(days=27) < period_end - harness.clock.now < timedelta(days=32)
    # the webhooks went through verification and the dedupe like Stripe's
    processed = await harness.db["stripe_events"].find({"user_id": user}).to_list()
    assert sorted(e["type"] for e in processed) == ["checkout.session.completed", "invoice.paid"]
    ledger = await harness.db["payments"].find({"user_id": user}).to_list()
    assert [(p["status"], p["amount"], p["currency"]) for p in ledger] == [("paid", 1500, "usd")]
    assert ledger[0]["payment_intent_id"].startswith("pi_local_")

    done = await harness.client.get(started["checkout_url"])
    assert 'data-checkout-status="paid"' in done.text
    # paying again (a reload, a retry) redelivers the same Stripe events: nothing doubles
    again = await harness.client.post(actions[0])
    assert again.status_code == 303
    assert await harness.db["payments"].count_documents({"user_id": user}) == 1
    declined_late = await harness.client.post(actions[1])
    assert declined_late.status_code == 409 and declined_late.json()["code"] == "checkout_closed"
    # now on premium: buying it again is a conflict
    conflict = await harness.client.post(
        "/billing/checkout", json={"plan": "premium"}, headers=harness.auth(user)
    )
    assert conflict.status_code == 409 and conflict.json()["code"] == "already_subscribed"


async def test_decline_keeps_free_and_shows_the_failed_payment(harness: Harness) -> None:
    user = str(uuid.uuid4())
    started = await checkout(harness, user)
    declined = await harness.client.post(started["checkout_url"] + "/decline")
    assert declined.status_code == 303
    failed = (await harness.published("PaymentFailed", user))[0]
    assert failed["amount"] == 1500 and failed["currency"] == "usd"
    assert failed["grace_until"] is None  # nothing to keep: the user never had premium
    view = await harness.view(user)
    assert view["plan"] == "free" and view["weekly_limit"] == 2 and view["status"] == "active"
    failure = view["last_payment_failure"]
    assert failure["invoice_id"] == failed["invoice_id"] and failure["resolved_at"] is None
    assert not harness.bus.of("PlanUpgraded", user)
    page = await harness.client.get(started["checkout_url"])
    assert 'data-checkout-status="declined"' in page.text
    late_pay = await harness.client.post(started["checkout_url"] + "/pay")
    assert late_pay.status_code == 409
    ledger = await harness.db["payments"].find({"user_id": user}).to_list()
    assert [p["status"] for p in ledger] == ["failed"]

    # a new checkout, paid this time: premium, and the failure is marked resolved
    second = await checkout(harness, user)
    assert second["session_id"] != started["session_id"]
    assert (await harness.client.post(second["checkout_url"] + "/pay")).status_code == 303
    await harness.published("PlanUpgraded", user)
    view = await harness.view(user)
    assert view["plan"] == "premium" and view["last_payment_failure"]["resolved_at"]


async def test_checkout_refuses_unknown_plans_free_and_junk(harness: Harness) -> None:
    user = str(uuid.uuid4())
    auth = harness.auth(user)
    unknown = await harness.client.post("/billing/checkout", json={"plan": "gold"}, headers=auth)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_plan"
    free = await harness.client.post("/billing/checkout", json={"plan": "free"}, headers=auth)
    assert free.status_code == 409 and free.json()["code"] == "already_subscribed"
    missing = await harness.client.post("/billing/checkout", json={}, headers=auth)
    assert missing.status_code == 422
    anonymous = await harness.client.post("/billing/checkout", json={"plan": "premium"})
    assert anonymous.status_code == 401
    assert await harness.db["checkouts"].count_documents({}) == 0


async def test_local_checkout_pages_need_the_exact_unguessable_id(harness: Harness) -> None:
    user = str(uuid.uuid4())
    started = await checkout(harness, user)
    real = started["session_id"]
    for probe in (real[:-1] + ("A" if real[-1] != "A" else "B"), "cs_local_1", "../internal"):
        page = await harness.client.get(f"/billing/local-checkout/{probe}")
        assert page.status_code == 404, probe
        pay = await harness.client.post(f"/billing/local-checkout/{probe}/pay")
        assert pay.status_code == 404, probe
    assert not harness.bus.of("PlanUpgraded", user)


async def test_an_expired_local_checkout_cannot_be_paid(harness: Harness) -> None:
    user = str(uuid.uuid4())
    started = await checkout(harness, user)
    harness.clock.advance(days=1, seconds=1)
    page = await harness.client.get(started["checkout_url"])
    assert 'data-checkout-status="expired"' in page.text
    assert (await harness.client.post(started["checkout_url"] + "/pay")).status_code == 409
    # and a new one is offered instead of the expired one
    assert (await checkout(harness, user))["session_id"] != started["session_id"]


async def test_cancel_keeps_premium_to_the_period_end_then_drops(harness: Harness) -> None:
    user = str(uuid.uuid4())
    nothing = await harness.client.post("/billing/subscription/cancel", headers=harness.auth(user))
    assert nothing.status_code == 409 and nothing.json()["code"] == "no_active_subscription"

    started = await checkout(harness, user)
    await harness.client.post(started["checkout_url"] + "/pay")
    await harness.published("PlanUpgraded", user)

    canceled = await harness.client.post("/billing/subscription/cancel", headers=harness.auth(user))
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert body["plan"] == "premium" and body["cancel_at_period_end"] is True
    assert body["next_billing_date"] is None
    period_end = datetime.fromisoformat(body["current_period_end"])
    processed = await harness.db["stripe_events"].count_documents(
        {"user_id": user, "type": "customer.subscription.updated"}
    )
    assert processed == 1  # delivered as Stripe would, through the webhook handler
    again = await harness.client.post("/billing/subscription/cancel", headers=harness.auth(user))
    assert again.status_code == 200 and again.json()["cancel_at_period_end"] is True

    assert await harness.billing.lapses.check_plans() == 0
    harness.clock.now = period_end - timedelta(seconds=1)
    assert await harness.billing.lapses.check_plans() == 0
    assert (await harness.view(user))["plan"] == "premium"
    harness.clock.now = period_end + timedelta(seconds=1)
    assert await harness.billing.lapses.check_plans() == 1
    downgraded = (await harness.published("PlanDowngraded", user))[0]
    assert downgraded["reason"] == "canceled" and downgraded["weekly_limit"] == 2
    assert (await harness.view(user))["plan"] == "free"
    assert await harness.billing.lapses.check_plans() == 0


async def test_internal_stats_count_subscriptions_and_revenue_for_admins_only(
    harness: Harness,
) -> None:
    payers = [str(uuid.uuid4()) for _ in range(2)]
    for user in payers:
        started = await checkout(harness, user)
        await harness.client.post(started["checkout_url"] + "/pay")
    decliner = str(uuid.uuid4())
    await harness.client.post((await checkout(harness, decliner))["checkout_url"] + "/decline")
    for user in payers:
        await harness.published("PlanUpgraded", user)

    forbidden = await harness.client.get("/internal/stats", headers=harness.auth(payers[0]))
    assert forbidden.status_code == 403
    assert (await harness.client.get("/internal/stats")).status_code == 401
    stats = await harness.client.get(
        "/internal/stats", headers=harness.auth(str(uuid.uuid4()), "admin")
    )
    assert stats.status_code == 200
    body = stats.json()
    assert body["active_subscriptions"] == 2
    assert body["revenue"] == {"usd": 3000}
    assert body["payments"] == {"paid": 2, "failed": 1}


async def test_deleting_the_account_cancels_the_local_subscription_at_once(
    harness: Harness,
) -> None:
    user = str(uuid.uuid4())
    started = await checkout(harness, user)
    await harness.client.post(started["checkout_url"] + "/pay")
    await harness.published("PlanUpgraded", user)
    # canceled at period end first: the deletion still ends it now, not at the period end
    canceled = await harness.client.post("/billing/subscription/cancel", headers=harness.auth(user))
    assert canceled.json()["cancel_at_period_end"] is True
    sub = canceled.json()["subscription_id"]

    envelope = await harness.publish(
        UserDeleted(user_id=user, deleted_at=harness.clock.now), aggregate_id=user
    )
    downgraded = (await harness.published("PlanDowngraded", user))[0]
    assert downgraded["reason"] == "deleted" and downgraded["plan"] == "free"
    await harness.handled(envelope)
    view = await harness.db["subscriptions"].find_one({"_id": user})
    assert view["status"] == "canceled" and view["plan"] == "free"
    assert view["subscription_id"] == sub and view["stripe_status"] == "canceled"
    assert view["next_check_at"] is None
    observed = await harness.db["events"].find_one(
        {"aggregate_id": user, "causation_id": str(envelope.event_id)}
    )
    assert observed["payload"]["source"] == "local.subscriptions.cancel"
    assert observed["payload"]["status"] == "canceled"
    # the period end passes: nothing more happens
    harness.clock.advance(days=40)
    assert await harness.billing.lapses.check_plans() == 0
    assert len(harness.bus.of("PlanDowngraded", user)) == 1


async def test_without_a_key_a_real_stripe_subscription_is_not_marked_canceled(
    harness: Harness,
) -> None:
    """A subscription Stripe made (before the key was removed) cannot be cancelled from here:
    the deletion fails (the broker retries, then parks it) rather than leaving it charging
    while billing says it ended."""
    user, sub = str(uuid.uuid4()), "sub_" + uuid.uuid4().hex[:14]
    paid = checkout_completed(user, sub, "cus_real", harness.clock.now - timedelta(minutes=1))
    assert (await harness.deliver(paid)).status_code == 200
    await harness.published("PlanUpgraded", user)
    before = await harness.state()
    envelope = EventEnvelope.wrap(
        UserDeleted(user_id=user, deleted_at=harness.clock.now),
        producer="auth",
        aggregate_type="user",
        aggregate_id=user,
        aggregate_version=1,
    )
    with pytest.raises(PaymentsUnavailable):
        await harness.rt.command(
            lambda session: harness.billing.closure.close_account(user, envelope, session)
        )
    assert await harness.state() == before
    assert (await harness.view(user))["plan"] == "premium"


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "never-registered"])
async def test_a_local_checkout_opened_before_the_deletion_cannot_be_paid_after_it(
    harness: Harness, registered: bool
) -> None:
    user = str(uuid.uuid4())
    if registered:
        welcome = UserRegistered(
            user_id=user, email="d@example.com", name="D", registered_at=harness.clock.now
        )
        await harness.handled(await harness.publish(welcome, aggregate_id=user))
    # else: billing has not taken UserRegistered in; the open checkout is all it knows
    started = await checkout(harness, user)
    deleted = UserDeleted(user_id=user, deleted_at=harness.clock.now)
    await harness.handled(await harness.publish(deleted, aggregate_id=user))
    before = await harness.state()

    paid = await harness.client.post(started["checkout_url"] + "/pay")

    assert paid.status_code == 409, paid.text
    assert paid.headers["content-type"].startswith("application/problem+json")
    problem = paid.json()
    assert problem["code"] == "account_closed" and problem["status"] == 409
    assert problem["detail"]
    declined = await harness.client.post(started["checkout_url"] + "/decline")
    assert declined.status_code == 409 and declined.json()["code"] == "account_closed"
    # nothing charged, booked, recorded or published
    assert await harness.state() == before
    assert await harness.db["payments"].count_documents({"user_id": user}) == 0
    plan_events = await harness.db["outbox"].count_documents({"envelope.payload.user_id": user})
    assert plan_events == 0
    view = await harness.view(user)
    assert view["plan"] == "free" and view["status"] == "canceled"
    row = await harness.db["checkouts"].find_one({"_id": started["session_id"]})
    assert row["status"] == "expired" and row["ended_reason"] == "account_deleted"
    page = await harness.client.get(started["checkout_url"])
    assert page.status_code == 200 and 'data-checkout-status="expired"' in page.text
    assert "account has been closed" in page.text and "<form" not in page.text
    # and no new checkout either, while the deleted user's token still works
    again = await harness.client.post(
        "/billing/checkout", json={"plan": "premium"}, headers=harness.auth(user)
    )
    assert again.status_code == 409 and again.json()["code"] == "account_closed"
    assert await harness.db["checkouts"].count_documents({"user_id": user}) == 1


async def test_a_local_payment_that_raced_the_deletion_is_canceled_at_once(
    harness: Harness,
) -> None:
    """Pay was pressed just before the deletion committed: its webhooks reach a closed
    account, and the local subscription they start is canceled there and then."""
    user = str(uuid.uuid4())
    welcome = UserRegistered(
        user_id=user, email="r@example.com", name="R", registered_at=harness.clock.now
    )
    await harness.handled(await harness.publish(welcome, aggregate_id=user))
    deleted = UserDeleted(user_id=user, deleted_at=harness.clock.now)
    await harness.handled(await harness.publish(deleted, aggregate_id=user))
    sub = local_stripe.ids("cs_local_raced_" + uuid.uuid4().hex)["subscription_id"]
    completed = checkout_completed(user, sub, local_stripe.customer_id_for(user), harness.clock.now)

    answer = await harness.deliver(completed)

    assert answer.status_code == 200 and answer.json()["outcome"] == "account_closed"
    ended = await harness.db["events"].find_one(
        {"aggregate_id": user, "payload.subscription_id": sub, "payload.status": "canceled"}
    )
    assert ended["payload"]["source"] == "local.subscriptions.cancel"
    assert await harness.db["outbox"].count_documents({"envelope.payload.user_id": user}) == 0
    view = await harness.view(user)
    assert view["plan"] == "free" and view["status"] == "canceled"
    assert view["subscription_id"] == sub
