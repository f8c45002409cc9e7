"""scripts/replay_parked.py against the real broker: messages really dead-lettered by
RabbitMQ (x-death and all) go back to the queue they came from, or through the events
exchange; nothing is lost when the target cannot take them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest
import replay_parked
from aio_pika.abc import AbstractChannel, AbstractConnection

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Topology:
    url: str
    connection: AbstractConnection
    channel: AbstractChannel
    exchange: str
    work: str
    parked: str
    other: str  # another consumer's queue bound to the same event type


@pytest.fixture
async def topology(rabbitmq_url: str) -> AsyncIterator[Topology]:
    """The kit's shape on a private exchange: a quorum work queue dead-lettering into its
    `.parked` twin, and a second service's queue bound to the same event type."""
    tag = uuid.uuid4().hex[:8]
    exchange_name = f"mi.events.t{tag}"
    work = f"t{tag}.ai-runner.main.SessionRequested"
    parked = f"{work}.parked"
    other = f"t{tag}.billing.main.SessionRequested"
    connection = await aio_pika.connect(rabbitmq_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC)
    await channel.declare_queue(parked, durable=True, arguments={"x-queue-type": "quorum"})
    work_queue = await channel.declare_queue(
        work,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": parked,
        },
    )
    other_queue = await channel.declare_queue(
        other, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await work_queue.bind(exchange, routing_key="SessionRequested")
    await other_queue.bind(exchange, routing_key="SessionRequested")
    try:
        yield Topology(rabbitmq_url, connection, channel, exchange_name, work, parked, other)
    finally:
        for name in (work, parked, other):
            await channel.queue_delete(name)
        await channel.exchange_delete(exchange_name)
        await connection.close()


async def park(topo: Topology, count: int) -> list[str]:
    """Publish `count` events, then have the consumer reject them so the broker parks them."""
    exchange = await topo.channel.get_exchange(topo.exchange)
    already_parked = await depth(topo, topo.parked)
    ids = []
    for n in range(count):
        event_id = str(uuid.uuid4())
        body = json.dumps({"event_id": event_id, "event_type": "SessionRequested", "n": n})
        await exchange.publish(
            aio_pika.Message(
                body.encode(),
                message_id=event_id,
                content_type="application/json",
                correlation_id=f"corr-{n}",
                headers={"traceparent": f"00-{n:032x}-{n + 1:016x}-01"},
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key="SessionRequested",
        )
        ids.append(event_id)
    work = await topo.channel.get_queue(topo.work)
    other = await topo.channel.get_queue(topo.other)
    for _ in range(count):
        message = await work.get(no_ack=False, timeout=5)
        await message.reject(requeue=False)  # dead-lettered by the broker, with x-death
        await (await other.get(no_ack=False, timeout=5)).ack()  # the other consumer was fine
    # dead-lettering happens inside the broker after the reject returns: wait until it did
    for _ in range(200):
        if await depth(topo, topo.parked) >= already_parked + count:
            break
        await asyncio.sleep(0.05)
    return ids


async def depth(topo: Topology, name: str) -> int:
    channel = await topo.connection.channel()
    queue = await channel.declare_queue(name, passive=True)
    count = int(queue.declaration_result.message_count or 0)
    await channel.close()
    return count


async def drain(topo: Topology, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    queue = await topo.channel.get_queue(name)
    out = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        out.append(message)
    return out


async def test_parked_events_go_back_to_the_queue_they_were_parked_from(topology: Topology) -> None:
    ids = await park(topology, 3)
    assert await depth(topology, topology.parked) == 3

    result = await replay_parked.replay(topology.url, topology.parked)

    assert (result.found, result.moved) == (3, 3)
    assert await depth(topology, topology.parked) == 0
    assert await depth(topology, topology.other) == 0  # only the failing consumer sees it again
    replayed = await drain(topology, topology.work)
    assert [m.message_id for m in replayed] == ids
    first = replayed[0]
    assert json.loads(first.body)["event_id"] == ids[0]
    assert first.correlation_id == "corr-0" and first.content_type == "application/json"
    headers = first.headers or {}
    assert headers["traceparent"] == f"00-{0:032x}-{1:016x}-01"  # the trace continues
    assert headers["x-replay-count"] == 1
    assert headers["x-replayed-from"] == topology.parked
    assert "rejected" in str(headers["x-last-parked-reason"])
    assert "x-death" not in headers


async def test_a_message_parked_again_after_a_replay_counts_its_replays(topology: Topology) -> None:
    await park(topology, 1)
    await replay_parked.replay(topology.url, topology.parked)
    work = await topology.channel.get_queue(topology.work)
    await (await work.get(no_ack=False, timeout=5)).reject(requeue=False)  # still failing

    await replay_parked.replay(topology.url, topology.parked)

    [message] = await drain(topology, topology.work)
    assert (message.headers or {})["x-replay-count"] == 2


async def test_limit_and_dry_run_move_only_what_they_say(topology: Topology) -> None:
    await park(topology, 4)

    listed = await replay_parked.replay(topology.url, topology.parked, dry_run=True)
    assert listed.moved == 0 and len(listed.listed) == 4
    assert {item["routing_key"] for item in listed.listed} == {topology.work}
    assert await depth(topology, topology.parked) == 4  # nothing moved, nothing lost

    partial = await replay_parked.replay(topology.url, topology.parked, limit=1)
    assert partial.moved == 1
    assert await depth(topology, topology.parked) == 3
    assert await depth(topology, topology.work) == 1


async def test_via_the_exchange_every_bound_consumer_gets_the_event_again(
    topology: Topology,
) -> None:
    await park(topology, 2)

    result = await replay_parked.replay(
        topology.url, topology.parked, via_exchange=topology.exchange
    )

    assert result.moved == 2
    assert await depth(topology, topology.work) == 2
    assert await depth(topology, topology.other) == 2  # idempotent consumers skip duplicates


async def test_an_unroutable_replay_leaves_the_message_parked(topology: Topology) -> None:
    await park(topology, 2)
    # nothing is bound to the exchange with this event's routing key any more
    work = await topology.channel.get_queue(topology.work)
    other = await topology.channel.get_queue(topology.other)
    await work.unbind(topology.exchange, routing_key="SessionRequested")
    await other.unbind(topology.exchange, routing_key="SessionRequested")

    with pytest.raises(replay_parked.ReplayError, match="not routable"):
        await replay_parked.replay(topology.url, topology.parked, via_exchange=topology.exchange)

    # unacked messages return to the queue as the script's channel closes: wait for both
    deadline = asyncio.get_running_loop().time() + 10
    while await depth(topology, topology.parked) != 2:
        assert asyncio.get_running_loop().time() < deadline, "messages not back in the queue"
        await asyncio.sleep(0.05)


async def test_the_command_line_replays_and_reports(topology: Topology) -> None:
    async def prepare() -> None:
        conn = await aio_pika.connect(topology.url)
        async with conn:
            channel = await conn.channel()
            queue = await channel.get_queue(topology.parked)
            await channel.default_exchange.publish(
                aio_pika.Message(
                    b"{}", message_id="m-1", headers={"x-parked-reason": "unreadable"}
                ),
                routing_key=queue.name,
            )

    await prepare()
    env = {**os.environ, "RABBITMQ_URL": topology.url}
    script = REPO / "scripts" / "replay_parked.py"
    dry = subprocess.run(
        [sys.executable, script, topology.parked, "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert '"reason": "unreadable"' in dry.stdout and "would go to queue" in dry.stdout
    done = subprocess.run(
        [sys.executable, script, topology.parked],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"moved 1 of 1 to queue {topology.work}" in done.stdout
    missing = subprocess.run(
        [sys.executable, script, "no-such-queue.parked"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    not_parked = subprocess.run(
        [sys.executable, script, topology.work], capture_output=True, text=True, env=env, timeout=60
    )
    assert not_parked.returncode == 2 and "is not a parked queue" in not_parked.stderr
