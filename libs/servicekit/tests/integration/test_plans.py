"""The one plan projection (servicekit.plans) that auth and interviews keep from billing's
events, on a real Mongo-wire server: the newest `effective_at` wins whatever the order of
delivery, and a redelivery changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from contracts import PlanDowngraded, PlanUpgraded
from servicekit.mongo import connect
from servicekit.plans import PlanProjection

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def upgraded(user_id: str, at: datetime) -> PlanUpgraded:
    return PlanUpgraded(user_id=user_id, plan="premium", weekly_limit=20, effective_at=at)


def downgraded(user_id: str, at: datetime) -> PlanDowngraded:
    return PlanDowngraded(
        user_id=user_id,
        from_plan="premium",
        plan="free",
        weekly_limit=2,
        reason="canceled",
        effective_at=at,
    )


@pytest.fixture
async def plans(mongo_uri: str, unique: str) -> AsyncIterator[PlanProjection]:
    client = connect(mongo_uri, "kit-plans-test")
    try:
        yield PlanProjection(client[f"t_{unique}"])
    finally:
        await client.drop_database(f"t_{unique}")
        await client.close()


async def held(plans: PlanProjection, user_id: str) -> tuple[str, int] | None:
    doc = await plans.get(user_id)
    return None if doc is None else (doc["plan"], doc["weekly_limit"])


async def test_a_user_billing_never_mentioned_is_free(plans: PlanProjection) -> None:
    assert await plans.get("nobody") is None
    assert await plans.plan_of("nobody") == "free"


async def test_a_late_older_event_does_not_undo_a_newer_one(plans: PlanProjection) -> None:
    await plans.record(upgraded("u1", NOW))
    await plans.record(downgraded("u1", NOW - timedelta(minutes=5)))  # older, delivered late
    assert await held(plans, "u1") == ("premium", 20)
    # and the other way round: the older one first, then the newer
    await plans.record(downgraded("u2", NOW - timedelta(minutes=5)))
    await plans.record(upgraded("u2", NOW))
    assert await held(plans, "u2") == ("premium", 20)


async def test_a_redelivery_changes_nothing_and_the_same_time_takes_the_latest(
    plans: PlanProjection,
) -> None:
    await plans.record(upgraded("u1", NOW))
    await plans.record(upgraded("u1", NOW))  # the same event again
    assert await held(plans, "u1") == ("premium", 20)
    assert await plans.collection.count_documents({"_id": "u1"}) == 1
    # two different changes with the same effective time: the one recorded last stands
    await plans.record(downgraded("u1", NOW))
    assert await held(plans, "u1") == ("free", 2)


async def test_a_downgrade_after_an_upgrade_takes_the_plan_back(plans: PlanProjection) -> None:
    await plans.record(upgraded("u1", NOW))
    assert await plans.plan_of("u1") == "premium"
    await plans.record(downgraded("u1", NOW + timedelta(days=30)))  # at the period's end
    assert await plans.plan_of("u1") == "free"
    assert await held(plans, "u1") == ("free", 2)
