"""RabbitMQ wiring on FastStream: topology, publishing with confirms, idempotent consumers.

Topology (all durable):
- `mi.events` topic exchange; routing key = event type. Unroutable events go to its
  alternate exchange `mi.unrouted` and wait in the `mi.unrouted` queue instead of vanishing.
  That queue keeps the newest `UNROUTED_MAX_LENGTH` (drop-head): nobody consumes it, so
  without a bound an event type nobody subscribes to fills the broker's disk.
- one quorum queue per (service, event type): `<prefix><service>.<EventType>`, with
  `x-delivery-limit` and dead-lettering (at-least-once) to `mi.dlx`, which routes to the
  queue's parked twin `<queue>.parked`. Retry limits live in the broker, not in loops.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiormq
from aio_pika import ExchangeType as AmqpExchangeType
from aio_pika.abc import AbstractConnection
from contracts import DomainEvent, EventEnvelope
from faststream import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)
from pydantic import ValidationError
from pymongo.errors import DuplicateKeyError
from yarl import URL

from servicekit.logs import bind_context, get_logger
from servicekit.metrics import CONSUME_LATENCY, CONSUMER_LAG, EVENTS_CONSUMED, QUEUE_DEPTH
from servicekit.mongo import (
    AsyncClientSession,
    AsyncDatabase,
    AsyncMongoClient,
    Document,
    in_transaction,
    origin,
)
from servicekit.tracing import consumer_span

log = get_logger(__name__)

DLX = "mi.dlx"
UNROUTED = "mi.unrouted"
UNROUTED_MAX_LENGTH = 100_000
"""Unrouted events kept for a person to read (at ~2 KB an event, about 200 MB at most)."""
UNROUTED_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "quorum",
    "x-max-length": UNROUTED_MAX_LENGTH,
    # the newest events say most about what is misrouted now; publishers are never refused
    "x-overflow": "drop-head",
}
INBOX = "inbox"

EventHandler = Callable[[DomainEvent, EventEnvelope, AsyncClientSession], Awaitable[None]]
StatelessHandler = Callable[[DomainEvent, EventEnvelope], Awaitable[None]]
"""No inbox, no transaction (the gateway; a single conditional write elsewhere): the effect
itself must be idempotent."""


def events_exchange(name: str) -> RabbitExchange:
    return RabbitExchange(
        name, type=ExchangeType.TOPIC, durable=True, arguments={"alternate-exchange": UNROUTED}
    )


DLX_EXCHANGE = RabbitExchange(DLX, type=ExchangeType.DIRECT, durable=True)
UNROUTED_EXCHANGE = RabbitExchange(UNROUTED, type=ExchangeType.FANOUT, durable=True)


def make_broker(
    url: str,
    service: str,
    prefetch: int,
    connection_name: str | None = None,
    reconnect_seconds: float = 1.0,
) -> RabbitBroker:
    # aiormq names the connection from the URL's `name` query parameter; the name shows in
    # the management UI and in `rabbitmqctl list_connections client_properties`
    name = connection_name or f"{service}@{socket.gethostname()}:{os.getpid()}"
    return RabbitBroker(
        str(URL(url).update_query(name=name)),
        app_id=service,
        default_channel=Channel(
            prefetch_count=prefetch, publisher_confirms=True, on_return_raises=True
        ),
        reconnect_interval=reconnect_seconds,
        timeout=10.0,  # connection establishment; the bootstrap retries after it
        graceful_timeout=10.0,
        log_level=10,  # FastStream's per-message logs are debug noise; ours carry the context
    )


async def declare_unrouted_queue(
    connection: AbstractConnection,
    name: str = UNROUTED,
    arguments: dict[str, Any] | None = None,
) -> bool:
    """Declare the queue for unroutable events, bound to its fanout exchange, with a bound.

    Queue arguments cannot change once a queue exists: against a broker where it was
    declared before (without the bound, or with another one) the broker answers
    PRECONDITION_FAILED and closes the channel. Then the queue is used as it is, and a
    warning says how to bound it with a policy (which applies to an existing queue).
    Returns whether the queue has the arguments asked for.
    """
    wanted = UNROUTED_ARGUMENTS if arguments is None else arguments
    channel = await connection.channel()
    bounded = True
    try:
        try:
            queue = await channel.declare_queue(name, durable=True, arguments=wanted)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            bounded = False
            log.warning(
                "broker.unrouted_queue_unbounded",
                queue=name,
                error=str(exc),
                fix=(
                    f"rabbitmqctl set_policy --apply-to queues mi-unrouted-bound "
                    f"'^{name}$' '{{\"max-length\":{wanted.get('x-max-length', 0)},"
                    f'"overflow":"drop-head"}}\''
                ),
            )
            await channel.close()
            channel = await connection.channel()  # the refused declare closed the other
            queue = await channel.declare_queue(name, passive=True)
        exchange = await channel.declare_exchange(name, type=AmqpExchangeType.FANOUT, durable=True)
        await queue.bind(exchange)
    finally:
        if not channel.is_closed:
            await channel.close()
    return bounded


class UnreadableEvent(Exception):
    """A message that can never be handled (bad JSON, unknown type, invalid payload)."""


def decode_event(
    body: bytes, expected_type: str | None = None
) -> tuple[EventEnvelope, DomainEvent]:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableEvent(f"body is not JSON: {exc}") from exc
    try:
        envelope = EventEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise UnreadableEvent(
            f"not an event envelope: {exc.errors(include_url=False)[:3]}"
        ) from exc
    if expected_type and envelope.event_type != expected_type:
        raise UnreadableEvent(f"expected {expected_type}, got {envelope.event_type}")
    try:
        return envelope, envelope.event()
    except (ValueError, ValidationError) as exc:
        raise UnreadableEvent(f"invalid {envelope.event_type} payload: {exc}") from exc


@dataclass
class EventConsumer:
    """Handles one event type for one service, exactly once in effect.

    The inbox row (unique per consumer and event id) is written in the same transaction as
    the handler's effects; a redelivered event finds its row and is acked as a duplicate.
    A handler error is nacked with requeue so the broker counts it against the delivery
    limit; an unreadable message is parked at once with its reason and acked.
    """

    service: str
    name: str
    event_type: str
    handler: EventHandler | None
    queue_prefix: str = ""
    stateless_handler: StatelessHandler | None = None
    broadcast: bool = False
    """Every replica gets every event (its own exclusive, auto-deleted queue): for pushing
    live updates to connected clients, where a missed event is re-read on reconnect."""
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def queue_name(self) -> str:
        base = f"{self.queue_prefix}{self.service}.{self.name}.{self.event_type}"
        return f"{base}.{self.instance}" if self.broadcast else base

    @property
    def parked_queue_name(self) -> str:
        return f"{self.queue_name}.parked"

    @property
    def inbox_consumer(self) -> str:
        return f"{self.name}.{self.event_type}"

    def queue(self, delivery_limit: int) -> RabbitQueue:
        if self.broadcast:
            return RabbitQueue(
                self.queue_name,
                durable=False,
                exclusive=True,
                auto_delete=True,
                routing_key=self.event_type,
            )
        return RabbitQueue(
            self.queue_name,
            queue_type=QueueType.QUORUM,
            durable=True,
            routing_key=self.event_type,
            arguments={
                "x-delivery-limit": delivery_limit,
                "x-dead-letter-exchange": DLX,
                "x-dead-letter-routing-key": self.parked_queue_name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )

    def parked_queue(self) -> RabbitQueue:
        return RabbitQueue(
            self.parked_queue_name,
            queue_type=QueueType.QUORUM,
            durable=True,
            routing_key=self.parked_queue_name,
        )


class ConsumerHost:
    """Binds `EventConsumer`s to a broker and a Mongo client."""

    def __init__(
        self,
        broker: RabbitBroker,
        exchange: RabbitExchange,
        delivery_limit: int,
    ) -> None:
        self.broker = broker
        self.exchange = exchange
        self.delivery_limit = delivery_limit
        self.consumers: list[EventConsumer] = []
        self.subscribers: list[Any] = []
        self.client: AsyncMongoClient[Document] | None = None
        self.db: AsyncDatabase[Document] | None = None
        self.on_commit: Callable[[], None] | None = None
        """Called after a handler's transaction committed (the runtime wakes its outbox
        relay: events the handler appended go out now, not at the relay's next poll)."""

    def add(self, consumer: EventConsumer) -> None:
        subscriber = self.broker.subscriber(
            consumer.queue(self.delivery_limit),
            self.exchange,
            ack_policy=AckPolicy.MANUAL,
        )

        async def on_message(message: RabbitMessage) -> None:
            await self.handle(consumer, message)

        subscriber(on_message)
        self.consumers.append(consumer)
        self.subscribers.append(subscriber)

    def attach_db(self, client: AsyncMongoClient[Document], db: AsyncDatabase[Document]) -> None:
        self.client = client
        self.db = db

    async def ensure_indexes(self) -> None:
        # `_id` is `<consumer>:<event id>`, unique by construction; nothing else is queried.
        assert self.db is not None

    async def declare_topology(self) -> None:
        """Exchanges and parked queues (FastStream declares and binds the work queues)."""
        connection = getattr(self.broker, "_connection", None)
        assert connection is not None, "declare_topology after broker.connect()"
        await declare_unrouted_queue(connection)
        await self.broker.declare_exchange(UNROUTED_EXCHANGE)
        await self.broker.declare_exchange(self.exchange)
        dlx = await self.broker.declare_exchange(DLX_EXCHANGE)
        for consumer in self.consumers:
            if consumer.broadcast:
                continue
            parked = await self.broker.declare_queue(consumer.parked_queue())
            await parked.bind(dlx, routing_key=consumer.parked_queue_name)

    async def park(self, consumer: EventConsumer, message: RabbitMessage, reason: str) -> None:
        raw = message.raw_message
        headers = dict(raw.headers or {})
        headers.update({"x-parked-reason": reason[:1000], "x-parked-by": consumer.queue_name})
        await self.broker.publish(
            raw.body,
            exchange=DLX_EXCHANGE,
            routing_key=consumer.parked_queue_name,
            mandatory=True,
            persist=True,
            headers=headers,
            message_id=raw.message_id,
            content_type=raw.content_type,
        )

    async def handle(self, consumer: EventConsumer, message: RabbitMessage) -> None:
        started = time.perf_counter()
        labels = (consumer.service, consumer.name, consumer.event_type)
        try:
            envelope, event = decode_event(message.body, consumer.event_type)
        except UnreadableEvent as exc:
            log.error(
                "event.parked",
                consumer=consumer.queue_name,
                reason=str(exc),
                message_id=message.message_id,
            )
            if not consumer.broadcast:  # a broadcast queue has no parked twin: drop it
                await self.park(consumer, message, str(exc))
            await message.ack()
            EVENTS_CONSUMED.labels(*labels, "parked").inc()
            return

        bind_context(
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        )
        with consumer_span(
            f"consume {envelope.event_type}",
            {"traceparent": envelope.traceparent, "tracestate": envelope.tracestate},
            **{
                "messaging.system": "rabbitmq",
                "messaging.destination.name": consumer.queue_name,
                "messaging.message.id": str(envelope.event_id),
            },
        ):
            try:
                with origin(f"consume:{consumer.event_type}"):
                    handled = await self.apply_once(consumer, envelope, event)
            except Exception as exc:
                log.exception("event.handler_failed", consumer=consumer.queue_name, error=repr(exc))
                EVENTS_CONSUMED.labels(*labels, "failed").inc()
                if consumer.broadcast:
                    await message.ack()  # live pushes are best effort; clients re-read on resume
                else:
                    await message.nack(requeue=True)
                return
        await message.ack()
        outcome = "handled" if handled else "duplicate"
        EVENTS_CONSUMED.labels(*labels, outcome).inc()
        CONSUME_LATENCY.labels(consumer.service, consumer.name).observe(
            time.perf_counter() - started
        )
        if handled:
            lag = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
            CONSUMER_LAG.labels(consumer.service, consumer.name).observe(max(lag, 0.0))
        log.info("event.consumed", consumer=consumer.queue_name, outcome=outcome)

    async def apply_once(
        self, consumer: EventConsumer, envelope: EventEnvelope, event: DomainEvent
    ) -> bool:
        """Run the handler and record the inbox row in one transaction; False if seen before."""
        if consumer.stateless_handler is not None:
            await consumer.stateless_handler(event, envelope)
            return True
        assert consumer.handler is not None
        assert self.client is not None and self.db is not None
        handler = consumer.handler
        inbox = self.db[INBOX]
        key = f"{consumer.inbox_consumer}:{envelope.event_id}"

        class _Seen(Exception):
            pass

        async def work(session: AsyncClientSession) -> None:
            try:
                await inbox.insert_one(
                    {
                        "_id": key,
                        "event_type": envelope.event_type,
                        "aggregate_id": envelope.aggregate_id,
                        "handled_at": datetime.now(UTC),
                    },
                    session=session,
                )
            except DuplicateKeyError as exc:
                raise _Seen from exc
            await handler(event, envelope, session)

        try:
            await in_transaction(self.client, work)
        except _Seen:
            return False
        if self.on_commit is not None:
            self.on_commit()
        return True

    async def refresh_queue_depths(self, service: str) -> dict[str, int]:
        """Ask the broker how many messages wait in each work and parked queue (a gauge)."""
        connection = getattr(self.broker, "_connection", None)
        if connection is None or connection.is_closed or not self.consumers:
            return {}
        depths: dict[str, int] = {}
        channel = await connection.channel()
        try:
            for consumer in self.consumers:
                if consumer.broadcast:
                    continue
                for name in (consumer.queue_name, consumer.parked_queue_name):
                    queue = await channel.declare_queue(name, passive=True)
                    count = queue.declaration_result.message_count or 0
                    depths[name] = count
                    QUEUE_DEPTH.labels(service, name).set(count)
            # nobody consumes mi.unrouted, so every service reports it (the UnroutedEvents
            # alert takes the max over them): events published that no queue is bound for
            queue = await channel.declare_queue(UNROUTED, passive=True)
            depths[UNROUTED] = queue.declaration_result.message_count or 0
            QUEUE_DEPTH.labels(service, UNROUTED).set(depths[UNROUTED])
        finally:
            await channel.close()
        return depths

    def attached(self) -> dict[str, bool]:
        """Whether each subscriber has a live consumer on an open channel right now."""
        return {
            c.queue_name: _consuming(s)
            for c, s in zip(self.consumers, self.subscribers, strict=True)
        }


def _consuming(subscriber: Any) -> bool:
    queue = getattr(subscriber, "_queue_obj", None)
    tag = getattr(subscriber, "_consumer_tag", None)
    if queue is None or tag is None:
        return False
    channel = queue.channel
    if channel.is_closed:
        return False
    underlay = getattr(channel, "_channel", None)  # aio-pika's UnderlayChannel
    raw = getattr(underlay, "channel", None)  # the aiormq channel that holds the consumers
    if raw is None or raw.is_closed:
        return False
    return tag in getattr(raw, "consumers", {})


def broker_permissions(
    service: str, queue_prefix: str = "", events: str = "mi.events"
) -> dict[str, str]:
    """The configure/write/read permission regexes (RabbitMQ, vhost `/`) that let `service`
    do what this module does for it, and nothing of another service's: declare, bind, consume
    and purge its own queues (`<prefix><service>.<name>.<EventType>`, their `.parked` twins,
    the gateway's per-replica broadcast queues), publish to the events exchange, park to the
    DLX, and declare and bind the shared `mi.unrouted` queue and exchange (every service
    declares them at start; a queue and an exchange of one name cannot be told apart by a
    permission regex, so `mi.unrouted` is also readable: it only holds what nobody routes).
    docker-compose.yml's broker definitions and deploy/k8s/README.md's users are these."""
    names = (f"{queue_prefix}{service}.", events, DLX, UNROUTED)
    if not all(re.fullmatch(r"[A-Za-z0-9_.-]+", name) for name in names):
        raise ValueError(f"not a plain name among {names}")
    own, *rest = (name.replace(".", r"\.") for name in names)
    shared = "|".join(rest)
    allowed = f"^({own}.+|{shared})$"
    return {"configure": allowed, "write": allowed, "read": allowed}
