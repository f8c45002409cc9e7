"""Event-sourced aggregates on Mongo.

`events` holds every envelope with a unique `(aggregate_id, aggregate_version)` index: that
index *is* the optimistic-concurrency check. `append` writes the events and their `outbox`
rows in the caller's transaction, so an event is either stored and queued for publishing, or
neither. Projections are folds over the stream and can be dropped and rebuilt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from contracts import DomainEvent, EventEnvelope
from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from servicekit.domain import A, DomainError
from servicekit.domain import Aggregate as Aggregate  # the pure kernel's; re-exported
from servicekit.metrics import APPEND_CONFLICTS, EVENTS_APPENDED
from servicekit.mongo import AsyncClientSession, AsyncDatabase, AsyncMongoClient, Document
from servicekit.tracing import current_trace_headers

EVENTS = "events"
_WRITE_CONFLICT = 112
OUTBOX = "outbox"

T = TypeVar("T")


class ConcurrencyConflict(DomainError):
    """Another writer appended to the aggregate first; reload and retry the command. Reaches
    a client (409) only when a command lost every retry on a very hot aggregate."""

    status = 409
    code = "concurrent_update"
    title = "Concurrent update"

    def __init__(self, aggregate_id: str, expected_version: int) -> None:
        super().__init__("Someone else changed this at the same moment; try again.")
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version


def envelope_to_document(envelope: EventEnvelope) -> Document:
    document: Document = envelope.model_dump(mode="json")
    return document | {"occurred_at": envelope.occurred_at}


def document_to_envelope(doc: Document) -> EventEnvelope:
    data = {k: v for k, v in doc.items() if k in EventEnvelope.model_fields}
    return EventEnvelope.model_validate(data)


def _is_version_clash(exc: DuplicateKeyError | BulkWriteError) -> bool:
    """A duplicate on the (aggregate_id, aggregate_version) index, not some other error."""
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return any(
            e.get("code") == 11000 and "aggregate_version" in str(e.get("keyPattern", e))
            for e in errors
        )
    return "aggregate_version" in str(exc.details or exc)


class EventStore:
    """Append-only event streams for one service's aggregates."""

    def __init__(self, db: AsyncDatabase[Document], producer: str) -> None:
        self.db = db
        self.producer = producer
        self.events = db[EVENTS]
        self.outbox = db[OUTBOX]

    async def ensure_indexes(self) -> None:
        await self.events.create_index(
            [("aggregate_id", ASCENDING), ("aggregate_version", ASCENDING)],
            unique=True,
            name="stream_version_unique",
        )
        await self.events.create_index([("aggregate_type", ASCENDING), ("occurred_at", ASCENDING)])
        await self.outbox.create_index(
            [("sent", ASCENDING), ("created_at", ASCENDING), ("aggregate_version", ASCENDING)],
            name="unsent_in_order",
        )
        # published rows are kept a week for inspection, then expire
        await self.outbox.create_index(
            [("sent_at", ASCENDING)], expireAfterSeconds=7 * 24 * 3600, name="sent_ttl"
        )

    async def load(
        self, aggregate_id: str, session: AsyncClientSession | None = None
    ) -> list[EventEnvelope]:
        cursor = self.events.find({"aggregate_id": aggregate_id}, session=session).sort(
            "aggregate_version", ASCENDING
        )
        return [document_to_envelope(doc) async for doc in cursor]

    async def append(
        self,
        *,
        aggregate_type: str,
        aggregate_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        session: AsyncClientSession,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        unpublished: frozenset[str] = frozenset(),
    ) -> list[EventEnvelope]:
        """Append after `expected_version` inside `session`'s transaction, queueing each event
        in the outbox (except types in `unpublished`). Raises `ConcurrencyConflict` if the
        version is taken."""
        headers = current_trace_headers()
        now = datetime.now(UTC)
        envelopes: list[EventEnvelope] = []
        for offset, event in enumerate(events, start=1):
            envelope = EventEnvelope.wrap(
                event,
                producer=self.producer,
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                aggregate_version=expected_version + offset,
                correlation_id=correlation_id,
                causation_id=causation_id,
                traceparent=headers.get("traceparent"),
                tracestate=headers.get("tracestate"),
                occurred_at=now,
            )
            if correlation_id is None and envelopes:
                # one command, one correlation: later events share the first one's id
                envelope = envelope.model_copy(
                    update={"correlation_id": envelopes[0].correlation_id}
                )
            envelopes.append(envelope)
        if not envelopes:
            return []
        docs = [envelope_to_document(e) | {"_id": str(e.event_id)} for e in envelopes]
        try:
            if len(docs) == 1:
                await self.events.insert_one(docs[0], session=session)
            else:
                await self.events.insert_many(docs, ordered=True, session=session)
        except (DuplicateKeyError, BulkWriteError) as exc:
            if not _is_version_clash(exc):
                raise
            APPEND_CONFLICTS.labels(self.producer).inc()
            raise ConcurrencyConflict(aggregate_id, expected_version) from exc
        except OperationFailure as exc:
            # A concurrent transaction inserted the same version first: MongoDB reports a
            # WriteConflict (transient). Surface it as our conflict, so the command is retried
            # by `retry_on_conflict` with its bounded, jittered backoff and counted, instead of
            # PyMongo silently re-running the callback for up to two minutes.
            if exc.code != _WRITE_CONFLICT:
                raise
            APPEND_CONFLICTS.labels(self.producer).inc()
            raise ConcurrencyConflict(aggregate_id, expected_version) from exc
        to_publish = [e for e in envelopes if e.event_type not in unpublished]
        if to_publish:
            await self.outbox.insert_many(
                [
                    {
                        "_id": str(e.event_id),
                        "envelope": e.model_dump(mode="json"),
                        "event_type": e.event_type,
                        "aggregate_id": e.aggregate_id,
                        "aggregate_version": e.aggregate_version,
                        "created_at": now,
                        "sent": False,
                        "attempts": 0,
                    }
                    for e in to_publish
                ],
                session=session,
            )
        for e in envelopes:
            EVENTS_APPENDED.labels(self.producer, e.event_type).inc()
        return envelopes

    async def all_events(self, aggregate_type: str | None = None) -> list[EventEnvelope]:
        query = {"aggregate_type": aggregate_type} if aggregate_type else {}
        cursor = self.events.find(query).sort(
            [("aggregate_id", ASCENDING), ("aggregate_version", ASCENDING)]
        )
        return [document_to_envelope(doc) async for doc in cursor]


class Projection(Protocol):
    """A read model kept from events; `apply` must be idempotent per event."""

    name: str

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None) -> None: ...

    async def reset(self) -> None: ...


async def rebuild(
    projection: Projection, store: EventStore, aggregate_type: str | None = None
) -> int:
    """Drop a projection and replay the stream into it; returns the number of events applied."""
    await projection.reset()
    count = 0
    for envelope in await store.all_events(aggregate_type):
        await projection.apply(envelope, None)
        count += 1
    return count


class Repository(Generic[A]):
    """Loads and saves one aggregate type through the event store."""

    def __init__(self, store: EventStore, aggregate_cls: type[A]) -> None:
        self.store = store
        self.cls = aggregate_cls

    async def get(self, aggregate_id: str, session: AsyncClientSession | None = None) -> A | None:
        history = await self.store.load(aggregate_id, session=session)
        if not history:
            return None
        return self.cls.from_history(aggregate_id, [e.event() for e in history])

    async def save(
        self,
        aggregate: A,
        session: AsyncClientSession,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> list[EventEnvelope]:
        envelopes = await self.store.append(
            aggregate_type=self.cls.aggregate_type,
            aggregate_id=aggregate.id,
            expected_version=aggregate.version,
            events=aggregate.pending,
            session=session,
            correlation_id=correlation_id,
            causation_id=causation_id,
            unpublished=self.cls.local_events,
        )
        aggregate.version += len(aggregate.pending)
        aggregate.pending = []
        return envelopes


async def retry_on_conflict(
    command: Callable[[], Awaitable[T]], attempts: int = 8, base_delay: float = 0.005
) -> T:
    """Re-run a whole command (load, decide, append) on fresh state after a conflict."""
    for attempt in range(1, attempts + 1):
        try:
            return await command()
        except ConcurrencyConflict:
            if attempt == attempts:
                raise
            await asyncio.sleep(base_delay * (2**attempt) * random.random())
    raise AssertionError("unreachable")


async def transactional_command(
    client: AsyncMongoClient[Document],
    work: Callable[[AsyncClientSession], Awaitable[T]],
    attempts: int = 8,
) -> T:
    """`work` in a transaction, retried on fresh state when an append conflicts."""
    from servicekit.mongo import in_transaction

    return await retry_on_conflict(lambda: in_transaction(client, work), attempts=attempts)


__all__ = [
    "Aggregate",
    "ConcurrencyConflict",
    "EventStore",
    "Projection",
    "Repository",
    "rebuild",
    "retry_on_conflict",
    "transactional_command",
]
