"""The edge's Redis scripts against a real Redis: one call per authenticated request that
spends budgets in order, and the /user/me read model's conditional fill."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from gateway.adapters.edgestore import EdgeStore, Policy, subject_key

IP = Policy("ip", 3, 60)
USER = Policy("user", 2, 60)
ROOMY = Policy("user", 100, 60)  # for tests of the read model, not of the limits


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[EdgeStore]:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    yield EdgeStore(client, prefix=prefix, revoke_seconds=60)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_one_call_spends_the_ip_then_the_user_budget(store: EdgeStore) -> None:
    first = await store.authenticated(IP, "10.0.0.1", USER, "u1")
    assert first.ip.allowed and first.ip.remaining == 2
    assert first.user is not None and first.user.allowed and first.user.remaining == 1
    assert not first.revoked and first.me is None

    second = await store.authenticated(IP, "10.0.0.1", USER, "u1")
    assert second.user is not None and second.user.remaining == 0
    refused = await store.authenticated(IP, "10.0.0.1", USER, "u1")
    assert refused.ip.allowed and refused.ip.remaining == 0
    assert refused.user is not None and not refused.user.allowed
    assert refused.user.headers()["Retry-After"] == "30"  # one cell of 60s/2

    # the IP is now spent too: the next request is refused there, before the user's budget
    other_user = await store.authenticated(IP, "10.0.0.1", USER, "u2")
    assert not other_user.ip.allowed and other_user.user is None
    assert not await store.client.exists(store.prefix + subject_key(USER, "u2"))


async def test_a_revoked_account_spends_no_user_budget(store: EdgeStore) -> None:
    await store.revoke_user("gone")
    check = await store.authenticated(IP, "10.0.0.2", USER, "gone", read_me=True)
    assert check.revoked and check.user is None and check.me is None
    assert check.ip.allowed  # the IP paid for the attempt
    assert not await store.client.exists(store.prefix + subject_key(USER, "gone"))


async def test_the_read_model_is_filled_only_from_a_read_that_nothing_overtook(
    store: EdgeStore,
) -> None:
    miss = await store.authenticated(IP, "10.0.0.3", ROOMY, "u3", read_me=True)
    assert miss.me is None and miss.generation == 0
    assert await store.fill_me("u3", miss.generation, b'{"plan":"free"}', 60, "free")
    hit = await store.authenticated(IP, "10.0.0.3", ROOMY, "u3", read_me=True)
    assert hit.me == b'{"plan":"free"}'

    # a fill that started before a change must not store what it read
    await store.invalidate_me("u3")
    gone = await store.authenticated(IP, "10.0.0.4", ROOMY, "u3", read_me=True)
    assert gone.me is None and gone.generation == 1
    assert not await store.fill_me("u3", 0, b'{"plan":"stale"}', 60, "free")
    assert await store.fill_me("u3", gone.generation, b'{"plan":"fresh"}', 60, "free")
    assert (await store.client.get(store.prefix + "me:u3")) == b'{"plan":"fresh"}'
    ttl = await store.client.ttl(store.prefix + "me:u3")
    assert 0 < ttl <= 60


async def test_an_announced_plan_change_waits_for_an_answer_that_shows_it(
    store: EdgeStore,
) -> None:
    await store.invalidate_me("u4", expect_plan="premium")
    generation = int(await store.client.get(store.prefix + "me:u4:gen"))
    # interviews has not applied the upgrade yet: its answer still says free
    assert not await store.fill_me("u4", generation, b'{"plan":"free"}', 60, "free")
    assert await store.fill_me("u4", generation, b'{"plan":"premium"}', 60, "premium")
    assert not await store.client.exists(store.prefix + "me:u4:plan")  # expectation met
    await store.invalidate_me("u4")
    generation += 1
    assert await store.fill_me("u4", generation, b'{"plan":"free"}', 60, "free")


async def test_no_time_to_keep_means_not_kept(store: EdgeStore) -> None:
    assert not await store.fill_me("u5", 0, b"{}", 0, "free")
    assert not await store.client.exists(store.prefix + "me:u5")
