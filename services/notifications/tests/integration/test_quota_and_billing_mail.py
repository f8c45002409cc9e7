"""The mail of the week's last interview (once per user and week) and billing's mail: the
receipt of an upgrade, a failed payment with its grace window, and the way back to free."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from contracts import PaymentFailed, PlanDowngraded, PlanUpgraded, SessionRequested
from contracts.events import BehavioralQuestionSnapshot, RubricLevel
from notificationstest import Harness, parts
from servicekit.testing import eventually

QUESTION = BehavioralQuestionSnapshot(
    question_id="beh-conflict",
    version=1,
    title="Disagreement with a colleague",
    prompt="Tell me about a time you disagreed with a colleague.",
    rubric=(RubricLevel(dimension="situation", description="Sets the scene.", weight=1.0),),
)


def started(user_id: str, used: int, limit: int = 2, plan: str = "free") -> SessionRequested:
    return SessionRequested(
        session_id=str(uuid.uuid4()),
        user_id=user_id,
        session_type="behavioral",
        questions=(QUESTION,),
        quota_week="2026-W49",
        requested_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
        plan=plan,  # type: ignore[arg-type]
        quota_used=used,
        weekly_limit=limit,
    )


async def rows(harness: Harness, user_id: str, purpose: str) -> list[dict[str, object]]:
    cursor = harness.db["deliveries"].find({"user_id": user_id, "purpose": purpose})
    return [doc async for doc in cursor]


async def test_the_last_interview_of_the_week_mails_once(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)

    first = await harness.publish(started(user_id, used=1), str(uuid.uuid4()))
    last = await harness.publish(started(user_id, used=2), str(uuid.uuid4()))
    # the last one failed, its credit came back and was used again: still one mail
    again = await harness.publish(started(user_id, used=2), str(uuid.uuid4()))
    await harness.publish_again(last)

    _welcome, quota = await harness.smtp.received(address, count=2)
    assert quota["Subject"] == "That was your last interview this week"
    text, html = parts(quota)
    assert "the last of the 2 interviews your free plan allows" in text
    assert "Monday 7 December 2026, 00:00 UTC" in text
    billing = "http://127.0.0.1:8000/billing"
    assert billing in text and f'href="{billing}"' in html
    assert quota["List-Unsubscribe"]

    async def all_consumed() -> bool:
        seen = await harness.db["inbox"].count_documents(
            {"aggregate_id": {"$in": [e.aggregate_id for e in (first, last, again)]}}
        )
        return seen == 3

    await eventually(all_consumed, message="three SessionRequested consumed")
    assert len(await rows(harness, user_id, "quota_reached")) == 1
    assert len(harness.smtp.to(address)) == 2


async def test_a_premium_user_at_the_limit_is_not_offered_premium(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    await harness.publish(started(user_id, used=20, limit=20, plan="premium"), str(uuid.uuid4()))
    _welcome, quota = await harness.smtp.received(address, count=2)
    text, _ = parts(quota)
    assert "20 interviews your premium plan allows" in text
    assert "Premium raises" not in text


async def test_an_upgrade_mails_a_receipt_with_the_price_and_next_billing_date(
    harness: Harness,
) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    event = PlanUpgraded(
        user_id=user_id,
        plan="premium",
        weekly_limit=20,
        subscription_id="sub_123",
        effective_at=datetime(2026, 12, 3, 15, 4, tzinfo=UTC),
        current_period_end=datetime(2027, 1, 3, 15, 4, tzinfo=UTC),
        monthly_price=900,
        currency="usd",
    )
    envelope = await harness.publish(event, user_id)
    await harness.delivery(envelope, "plan_upgraded", status="sent")
    _welcome, receipt = await harness.smtp.received(address, count=2)
    assert receipt["Subject"] == "Receipt: you are on the premium plan"
    text, html = parts(receipt)
    assert "Price: 9.00 USD a month." in text and "9.00 USD a month" in html
    assert "Next billing date: Sunday 3 January 2027, 15:04 UTC." in text
    assert "start 20 interviews every week" in text


async def test_a_failed_payment_says_until_when_premium_is_kept(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    failed_at = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    event = PaymentFailed(
        user_id=user_id,
        subscription_id="sub_123",
        invoice_id="in_1",
        amount=900,
        currency="usd",
        attempt=2,
        grace_until=failed_at + timedelta(days=7),
        failed_at=failed_at,
    )
    envelope = await harness.publish(event, user_id)
    await harness.delivery(envelope, "payment_failed", status="sent")
    _welcome, mail = await harness.smtp.received(address, count=2)
    assert "update your card" in mail["Subject"]
    text, _ = parts(mail)
    assert "payment of 9.00 USD (attempt 2)" in text
    assert "You keep premium until Thursday 10 December 2026, 15:00 UTC" in text


async def test_a_downgrade_mails_why_but_not_for_a_closed_account(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    at = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    common = {"user_id": user_id, "from_plan": "premium", "plan": "free", "weekly_limit": 2}
    await harness.publish(
        PlanDowngraded(**common, reason="deleted", effective_at=at),
        user_id,  # type: ignore[arg-type]
    )
    lapsed = await harness.publish(
        PlanDowngraded(**common, reason="payment_failed", effective_at=at),
        user_id,  # type: ignore[arg-type]
    )
    await harness.delivery(lapsed, "plan_downgraded", status="sent")
    _welcome, mail = await harness.smtp.received(address, count=2)
    assert mail["Subject"] == "You are back on the free plan"
    text, _ = parts(mail)
    assert "the payment for your subscription could not be taken" in text

    async def consumed() -> bool:
        seen = await harness.db["inbox"].count_documents(
            {"aggregate_id": user_id, "event_type": "PlanDowngraded"}
        )
        return seen == 2

    await eventually(consumed, message="the closing downgrade consumed")
    assert len(await rows(harness, user_id, "plan_downgraded")) == 1


async def test_billing_mail_stops_when_billing_is_turned_off(harness: Harness) -> None:
    user_id, address = await harness.register()
    await harness.smtp.received(address)
    put = await harness.http.put(
        "/user/me/notifications", json={"billing": False}, headers=harness.mint.headers(user_id)
    )
    assert put.status_code == 200
    event = PaymentFailed(
        user_id=user_id, invoice_id="in_2", amount=900, currency="usd",
        failed_at=datetime.now(UTC),
    )  # fmt: skip
    envelope = await harness.publish(event, user_id)
    await harness.delivery(envelope, "payment_failed", status="suppressed")
    assert len(harness.smtp.to(address)) == 1
