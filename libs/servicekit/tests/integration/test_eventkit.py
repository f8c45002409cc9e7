"""The event kit against the real RabbitMQ and a real Mongo-wire server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from contracts import DomainEvent, EventEnvelope
from servicekit.broker import declare_unrouted_queue
from servicekit.eventstore import ConcurrencyConflict, Repository, rebuild
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession, in_transaction
from servicekit.outbox import OutboxRelay
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings
from servicekit.testing import eventually, running

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kitfixtures import KitTallyIncremented, Tally


def make_runtime(isolation: dict[str, Any], **overrides: Any) -> tuple[ServiceRuntime, list[str]]:
    """A runtime with one consumer of KitTallyIncremented that counts its effects."""
    settings = ServiceSettings(service_name="kit", **(isolation | overrides))
    rt = ServiceRuntime(settings)
    calls: list[str] = []

    @rt.consumer("KitTallyIncremented")
    async def count(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, KitTallyIncremented)
        calls.append(str(envelope.event_id))
        if event.poison:
            raise RuntimeError("poison message")
        await rt.db["effects"].update_one(
            {"_id": envelope.aggregate_id},
            {
                "$inc": {"count": 1, "total": event.amount},
                "$push": {"events": str(envelope.event_id)},
            },
            upsert=True,
            session=session,
        )

    return rt, calls


async def increment(
    rt: ServiceRuntime, tally_id: str, amount: int = 1, poison: bool = False
) -> None:
    repo = Repository(rt.store, Tally)

    async def work(session: AsyncClientSession) -> None:
        tally = await repo.get(tally_id, session=session) or Tally(tally_id)
        tally.increment(amount, poison=poison)
        await repo.save(tally, session)

    await rt.command(work)


async def effect(rt: ServiceRuntime, tally_id: str) -> dict[str, Any] | None:
    return await rt.db["effects"].find_one({"_id": tally_id})


async def test_round_trip_append_publish_consume_once(isolation: dict[str, Any]) -> None:
    rt, _ = make_runtime(isolation)
    app = rt.create_app()
    async with running(app):
        for _ in range(3):
            await increment(rt, "t-1", 2)

        async def done() -> dict[str, Any] | None:
            doc = await effect(rt, "t-1")
            return doc if doc and doc["count"] == 3 else None

        doc = await eventually(done, message="three events consumed")
        assert doc["total"] == 6
        stream = await rt.store.load("t-1")
        assert [e.aggregate_version for e in stream] == [1, 2, 3]
        assert len({e.correlation_id for e in stream}) == 3
        assert await rt.db["outbox"].count_documents({"sent": False}) == 0


async def test_concurrent_appends_one_wins_other_conflicts_then_retries(
    isolation: dict[str, Any],
) -> None:
    rt, _ = make_runtime(isolation)
    rt.relay_enabled = False
    app = rt.create_app()
    async with running(app):
        await increment(rt, "c-1")  # version 1 exists
        repo = Repository(rt.store, Tally)
        both_loaded = asyncio.Barrier(2)
        seen: dict[int, list[int]] = {10: [], 100: []}  # versions each racer loaded, per attempt

        async def racer(amount: int) -> None:
            async def work(session: AsyncClientSession) -> None:
                tally = await repo.get("c-1", session=session)
                assert tally is not None
                seen[amount].append(tally.version)
                tally.increment(amount)
                if len(seen[amount]) == 1:
                    await both_loaded.wait()  # both decided on version 1 before either appends
                await repo.save(tally, session)

            await rt.command(work)  # conflict -> the whole command runs again on fresh state

        await asyncio.gather(racer(10), racer(100))
        attempts = sorted(seen.values(), key=len)
        assert attempts[0] == [1], "the winner appended on its first try"
        assert attempts[1][0] == 1 and attempts[1][-1] == 2 and len(attempts[1]) >= 2, (
            "the loser conflicted on version 1 and retried on version 2"
        )
        stream = await rt.store.load("c-1")
        assert [e.aggregate_version for e in stream] == [1, 2, 3]
        tally = await repo.get("c-1")
        assert tally is not None and tally.total == 111


async def test_stale_append_raises_concurrency_conflict(isolation: dict[str, Any]) -> None:
    rt, _ = make_runtime(isolation)
    rt.relay_enabled = False
    app = rt.create_app()
    async with running(app):
        await increment(rt, "s-1")
        await increment(rt, "s-1")
        stale = Tally.from_history("s-1", [KitTallyIncremented(amount=1)])  # believes version 1
        stale.increment(7)
        repo = Repository(rt.store, Tally)
        with pytest.raises(ConcurrencyConflict):
            await in_transaction(rt.client, lambda session: repo.save(stale, session))
        assert [e.aggregate_version for e in await rt.store.load("s-1")] == [1, 2]
        assert await rt.db["outbox"].count_documents({"aggregate_id": "s-1"}) == 2


async def test_many_concurrent_commands_all_land_in_order_and_conflicts_are_counted(
    isolation: dict[str, Any],
) -> None:
    rt, _ = make_runtime(isolation)
    rt.relay_enabled = False
    app = rt.create_app()
    before = REGISTRY.get_sample_value("event_append_conflicts_total", {"service": "kit"}) or 0.0
    async with running(app):
        await asyncio.gather(*(increment(rt, "m-1", 1) for _ in range(6)))
        stream = await rt.store.load("m-1")
        assert [e.aggregate_version for e in stream] == list(range(1, 7))
    after = REGISTRY.get_sample_value("event_append_conflicts_total", {"service": "kit"}) or 0.0
    assert after > before, "racing appends conflicted and were retried by the kit"


class CrashAfterPublish(OutboxRelay):
    """Publishes, then dies before recording that it did."""

    async def mark_sent(self, rows: list[dict[str, Any]]) -> None:
        raise RuntimeError("simulated crash between publish and mark-sent")


async def test_relay_crash_between_publish_and_mark_sent_delivers_once(
    isolation: dict[str, Any],
) -> None:
    rt, calls = make_runtime(isolation)
    rt.relay_enabled = False  # this test drives the relays by hand
    duplicates_before = consumed_count("duplicate")
    app = rt.create_app()
    async with running(app):
        await increment(rt, "r-1", 5)
        crashing = CrashAfterPublish(rt.db, rt.broker, rt.exchange, "kit")
        with pytest.raises(RuntimeError, match="simulated crash"):
            await crashing.publish_pending()
        assert await rt.db["outbox"].count_documents({"sent": False}) == 1

        async def consumed() -> dict[str, Any] | None:
            return await effect(rt, "r-1")

        await eventually(consumed, message="first delivery consumed")

        # the restarted relay finds the row unsent and publishes it again
        recovered = OutboxRelay(rt.db, rt.broker, rt.exchange, "kit")
        assert await recovered.publish_pending() == 1
        assert await rt.db["outbox"].count_documents({"sent": False}) == 0
        await eventually(
            lambda: _async(consumed_count("duplicate") > duplicates_before),
            message="duplicate delivered and recognised",
        )
        doc = await effect(rt, "r-1")
        assert doc is not None and doc["count"] == 1 and doc["total"] == 5
        assert len(calls) == 1  # the handler ran once; the redelivery stopped at the inbox
        inbox = await rt.db["inbox"].count_documents({})
        assert inbox == 1


def outbox_updates() -> float:
    """update commands the kit's Mongo client sent to `outbox` so far (any origin)."""
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (
                sample.name == "mongo_commands_total"
                and labels.get("service") == "kit"
                and labels.get("command") == "update"
                and labels.get("collection") == "outbox"
            ):
                total += sample.value
    return total


async def test_relay_marks_a_batch_sent_with_one_write(
    isolation: dict[str, Any],
) -> None:
    rt, calls = make_runtime(isolation)
    rt.relay_enabled = False  # driven by hand, so its writes can be counted
    app = rt.create_app()
    async with running(app):
        for n in range(1, 4):
            await increment(rt, "b-1", n)
        await increment(rt, "b-2", 10)
        relay = OutboxRelay(rt.db, rt.broker, rt.exchange, "kit")
        before = outbox_updates()
        assert await relay.publish_pending() == 4
        assert outbox_updates() - before == 1  # four rows, one write
        assert await rt.db["outbox"].count_documents({"sent": False}) == 0

        async def both() -> bool:
            one, two = await effect(rt, "b-1"), await effect(rt, "b-2")
            return bool(one and one["count"] == 3 and two)

        await eventually(both, message="the batch consumed")
        doc = await effect(rt, "b-1")
        assert doc is not None and doc["total"] == 6
        # every event reached the handler (a run retried after a write conflict shows twice)
        assert set(calls) == {
            str(e.event_id) for a in ("b-1", "b-2") for e in await rt.store.load(a)
        }


async def test_events_appended_by_a_consumer_go_out_without_waiting_for_a_poll(
    isolation: dict[str, Any],
) -> None:
    """A consumer's commit wakes the relay, as a command's does: with a poll an hour apart,
    the follow-up event still reaches its consumer."""
    settings = ServiceSettings(service_name="kit", **(isolation | {"outbox_poll_seconds": 3600}))
    rt = ServiceRuntime(settings)

    @rt.consumer("KitTallyIncremented")
    async def echo(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, KitTallyIncremented)
        await rt.db["effects"].update_one(
            {"_id": envelope.aggregate_id}, {"$inc": {"count": 1}}, upsert=True, session=session
        )
        if not envelope.aggregate_id.startswith("echo-"):
            follow_up = Tally(f"echo-{envelope.aggregate_id}")
            follow_up.increment(event.amount)
            await Repository(rt.store, Tally).save(follow_up, session)

    app = rt.create_app()
    async with running(app):
        await increment(rt, "w-1", 7)  # `running` waited for /readyz: the relay runs

        async def echoed() -> dict[str, Any] | None:
            return await effect(rt, "echo-w-1")

        doc = await eventually(echoed, message="the consumer's follow-up event consumed")
        assert doc["count"] == 1


def consumed_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "events_consumed_total",
        {
            "service": "kit",
            "consumer": "main",
            "event_type": "KitTallyIncremented",
            "outcome": outcome,
        },
    )
    return value or 0.0


async def _async(value: Any) -> Any:
    return value


async def _parked_messages(url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(url)
    out = []
    async with connection:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=False)
        # held unacked while we look; closing the connection puts them back
        while (message := await q.get(no_ack=False, fail=False)) is not None:
            out.append(message)
    return out


async def test_poison_message_retried_to_delivery_limit_then_parked(
    isolation: dict[str, Any],
) -> None:
    rt, calls = make_runtime(isolation, delivery_limit=2)
    app = rt.create_app()
    async with running(app):
        await increment(rt, "p-bad", 1, poison=True)
        for i in range(3):
            await increment(rt, f"p-good-{i}", 1)

        async def good_done() -> bool:
            return all([await effect(rt, f"p-good-{i}") for i in range(3)])

        await eventually(good_done, message="other messages keep flowing")
        consumer = rt.consumers.consumers[0]

        async def parked() -> list[Any]:
            return await _parked_messages(rt.settings.rabbitmq_url, consumer.parked_queue_name)

        messages = await eventually(parked, message="poison message parked")
        assert len(messages) == 1
        body = json.loads(messages[0].body)
        assert body["payload"]["poison"] is True
        poison_id = body["event_id"]
        # delivered once plus `delivery_limit` redeliveries, then dead-lettered by the broker
        assert calls.count(poison_id) == 3
        assert await effect(rt, "p-bad") is None
        assert await rt.db["inbox"].count_documents({"_id": {"$regex": poison_id}}) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"event_type": "KitTallyIncremented"}',
        b'{"event_id": "00000000-0000-0000-0000-000000000001", '
        b'"event_type": "KitTallyIncremented", '
        b'"schema_version": 1, "occurred_at": "2026-01-01T00:00:00Z", "producer": "x", '
        b'"aggregate_type": "kit-tally", "aggregate_id": "z", "aggregate_version": 1, '
        b'"correlation_id": "c", "payload": {"amount": "lots"}}',
    ],
    ids=["not-json", "not-an-envelope", "bad-payload"],
)
async def test_malformed_event_is_parked_with_reason_and_consumer_keeps_going(
    isolation: dict[str, Any], body: bytes
) -> None:
    rt, calls = make_runtime(isolation)
    app = rt.create_app()
    async with running(app):
        await rt.broker.publish(
            body,
            exchange=rt.exchange,
            routing_key="KitTallyIncremented",
            mandatory=True,
            message_id="malformed-1",
            persist=True,
        )
        await increment(rt, "after-bad", 3)
        await eventually(lambda: effect(rt, "after-bad"), message="consumer survived")
        consumer = rt.consumers.consumers[0]

        async def parked() -> list[Any]:
            return await _parked_messages(rt.settings.rabbitmq_url, consumer.parked_queue_name)

        messages = await eventually(parked, message="malformed message parked")
        assert len(messages) == 1
        assert messages[0].body == body  # kept byte for byte
        reason = messages[0].headers["x-parked-reason"]
        assert isinstance(reason, str) and reason
        assert calls == [c for c in calls if c]  # handler never saw the malformed one
        assert len(calls) == 1


async def test_unroutable_event_is_kept_not_lost(isolation: dict[str, Any], unique: str) -> None:
    rt, _ = make_runtime(isolation)
    app = rt.create_app()
    async with running(app):
        marker = f"nobody-listens-{unique}"
        await rt.broker.publish(
            b"{}",
            exchange=rt.exchange,
            routing_key=marker,
            mandatory=True,
            message_id=marker,
        )
        connection = await aio_pika.connect(rt.settings.rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue("mi.unrouted", ensure=False)

            async def find() -> bool:
                # other events wait in this shared queue too: look through all of them
                # (held unacked, so they go back when the channel closes), ack only ours
                found = False
                seen = []
                while (m := await queue.get(no_ack=False, fail=False)) is not None:
                    if m.message_id == marker:
                        await m.ack()
                        found = True
                    else:
                        seen.append(m)
                for m in seen:
                    await m.nack(requeue=True)
                return found

            assert await eventually(find, message="unroutable event in mi.unrouted")


async def test_unrouted_queue_is_bounded_dropping_the_oldest(
    isolation: dict[str, Any], unique: str
) -> None:
    """A fresh queue gets the bound (here 2): a third event pushes out the first, and the
    publisher is never refused."""
    name = f"t{unique}.unrouted"
    connection = await aio_pika.connect(isolation["rabbitmq_url"])
    async with connection:
        try:
            bound = {"x-queue-type": "quorum", "x-max-length": 2, "x-overflow": "drop-head"}
            assert await declare_unrouted_queue(connection, name, bound) is True
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(name)
            for n in (1, 2, 3):
                await exchange.publish(aio_pika.Message(b"{}", message_id=f"m{n}"), "any")
            queue = await channel.get_queue(name, ensure=False)
            kept = []
            while (m := await queue.get(no_ack=True, fail=False)) is not None:
                kept.append(m.message_id)
            assert kept == ["m2", "m3"]
        finally:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.exchange_delete(name)


async def test_unrouted_queue_declared_before_without_a_bound_is_used_as_it_is(
    isolation: dict[str, Any], unique: str
) -> None:
    """A broker where the queue exists with other arguments answers PRECONDITION_FAILED to
    the bounded declaration: startup goes on with the existing queue, still bound to the
    exchange, and the connection stays usable."""
    name = f"t{unique}.unrouted"
    connection = await aio_pika.connect(isolation["rabbitmq_url"])
    async with connection:
        try:
            channel = await connection.channel()
            await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
            assert await declare_unrouted_queue(connection, name) is False
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(name)
            await exchange.publish(aio_pika.Message(b"{}", message_id="kept"), "any")
            queue = await channel.get_queue(name, ensure=False)

            async def arrived() -> bool:
                m = await queue.get(no_ack=True, fail=False)
                return m is not None and m.message_id == "kept"

            assert await eventually(arrived, message="event in the pre-existing queue")
        finally:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.exchange_delete(name)


class TallyView:
    """Read model: totals per tally."""

    name = "tally_view"

    def __init__(self, rt: ServiceRuntime) -> None:
        self.collection = rt.db[self.name]

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None) -> None:
        event = envelope.event()
        assert isinstance(event, KitTallyIncremented)
        await self.collection.update_one(
            {"_id": envelope.aggregate_id, "version": {"$lt": envelope.aggregate_version}},
            {"$inc": {"total": event.amount}, "$set": {"version": envelope.aggregate_version}},
            upsert=False,
            session=session,
        ) if envelope.aggregate_version > 1 else await self.collection.insert_one(
            {"_id": envelope.aggregate_id, "total": event.amount, "version": 1}, session=session
        )

    async def reset(self) -> None:
        await self.collection.drop()


async def test_projection_dropped_and_rebuilt_equals_live(isolation: dict[str, Any]) -> None:
    rt, _ = make_runtime(isolation)
    rt.relay_enabled = False
    app = rt.create_app()
    async with running(app):
        view = TallyView(rt)
        repo = Repository(rt.store, Tally)
        for tally_id, amounts in {"v-1": [1, 2, 3], "v-2": [10], "v-3": [5, 5]}.items():
            for amount in amounts:

                async def work(
                    session: AsyncClientSession, tid: str = tally_id, a: int = amount
                ) -> None:
                    tally = await repo.get(tid, session=session) or Tally(tid)
                    tally.increment(a)
                    for envelope in await repo.save(tally, session):
                        await view.apply(envelope, session)

                await rt.command(work)
        live = await view.collection.find().sort("_id").to_list()
        assert [d["total"] for d in live] == [6, 10, 10]
        applied = await rebuild(view, rt.store, Tally.aggregate_type)
        assert applied == 6
        assert await view.collection.find().sort("_id").to_list() == live


async def test_trace_context_rides_in_the_envelope_to_the_consumer(
    isolation: dict[str, Any],
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    rt, _ = make_runtime(isolation, tracing=True)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = rt.create_app()
    async with running(app):
        with trace.get_tracer("test").start_as_current_span("POST /tallies") as request_span:
            await increment(rt, "traced", 1)
        trace_id = request_span.get_span_context().trace_id
        await eventually(lambda: effect(rt, "traced"), message="consumed")
        stored = (await rt.store.load("traced"))[0]
        assert stored.traceparent and f"{trace_id:032x}" in stored.traceparent

        def consumer_spans() -> list[Any]:
            return [
                s
                for s in exporter.get_finished_spans()
                if s.name == "consume KitTallyIncremented" and s.context.trace_id == trace_id
            ]

        spans = await eventually(lambda: _async(consumer_spans()), message="consumer span")
        assert spans[0].parent is not None


async def test_queue_depth_gauges_read_the_broker(isolation: dict[str, Any]) -> None:
    rt, _ = make_runtime(isolation)
    app = rt.create_app()
    async with running(app) as client:
        depths = await rt.consumers.refresh_queue_depths("kit")
        consumer = rt.consumers.consumers[0]
        # mi.unrouted is shared by every stack on this broker: its depth is whatever it is
        unrouted = depths.pop("mi.unrouted")
        assert unrouted >= 0
        assert depths == {consumer.queue_name: 0, consumer.parked_queue_name: 0}
        metrics = (await client.get("/metrics")).text
        series = f'consumer_queue_messages_ready{{queue="{consumer.queue_name}",service="kit"}}'
        assert series in metrics
