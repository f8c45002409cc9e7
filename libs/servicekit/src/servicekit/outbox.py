"""Outbox relay: publishes committed outbox rows with publisher confirms and `mandatory`.

A row is marked sent only after the broker confirmed it. A crash between the two leaves the
row unsent, so it is published again: at-least-once, which the consumers' inbox turns into
exactly-once effects. Order: rows of one aggregate are published one after another by
version; different aggregates go out concurrently. One relay per service holds a lease in
Mongo at a time, so replicas do not interleave an aggregate's events.

When it looks: at once when this process committed something (`notify`, called by the
runtime after a command's and a consumer's commit), and otherwise on a poll, which is what
publishes rows committed by another replica (only the lease holder publishes) or left by a
crash. The poll starts at `poll_seconds` after any activity and doubles while it keeps
finding nothing, up to `idle_poll_seconds`: an idle service no longer reads the outbox five
times a second, and a busy one, which finds rows on most looks, still looks as often.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.rabbit import RabbitBroker, RabbitExchange
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from servicekit.logs import get_logger
from servicekit.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISHED,
)
from servicekit.mongo import AsyncDatabase, Document, origin, set_origin

log = get_logger(__name__)

LEASE = "outbox_lease"


class OutboxRelay:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        broker: RabbitBroker,
        exchange: RabbitExchange,
        service: str,
        poll_seconds: float = 0.2,
        batch: int = 100,
        lease_seconds: float = 10.0,
        idle_poll_seconds: float | None = None,
    ) -> None:
        self.db = db
        self.outbox = db["outbox"]
        self.leases = db[LEASE]
        self.broker = broker
        self.exchange = exchange
        self.service = service
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = max(poll_seconds, idle_poll_seconds or poll_seconds)
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self._lease_until: datetime | None = None
        self._metrics_at = 0.0

    def notify(self) -> None:
        """Something was committed: publish now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            await self.leases.delete_one({"_id": "relay", "owner": self.owner})
        except Exception:  # noqa: BLE001 - best effort on shutdown
            pass

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        set_origin("relay")
        wait = self.poll_seconds
        while True:
            published = 0
            try:
                with origin("relay-housekeeping"):
                    held = await self.acquire_lease()
                if held:
                    published = await self.publish_pending()
                    self.last_error = None
                if time.monotonic() - self._metrics_at > 5.0:
                    self._metrics_at = time.monotonic()
                    with origin("relay-housekeeping"):
                        await self.refresh_backlog_metrics()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep relaying; the row stays unsent
                self.last_error = repr(exc)
                OUTBOX_PUBLISH_FAILURES.labels(self.service).inc()
                log.warning("outbox.relay_error", error=repr(exc))
                await asyncio.sleep(min(2.0, self.poll_seconds * 5))
            if published:
                wait = self.poll_seconds
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
                wait = self.poll_seconds  # woken by a commit: activity
            except TimeoutError:
                wait = min(wait * 2, self.idle_poll_seconds)  # another empty look
            self._wake.clear()

    async def acquire_lease(self) -> bool:
        now = datetime.now(UTC)
        if self._lease_until and self._lease_until - now > timedelta(
            seconds=self.lease_seconds / 2
        ):
            return True  # held with time to spare: no write on every wake-up
        until = now + timedelta(seconds=self.lease_seconds)
        try:
            # matched (ours, or run out) -> now ours; not matched -> the upsert's insert of
            # the same _id fails: another replica holds a live lease. No read-back needed.
            await self.leases.update_one(
                {"_id": "relay", "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": until}},
                upsert=True,
            )
        except DuplicateKeyError:
            self._lease_until = None
            return False  # another replica holds a live lease
        self._lease_until = until
        return True

    async def publish_pending(self) -> int:
        rows = await (
            self.outbox.find({"sent": False})
            .sort([("created_at", ASCENDING), ("aggregate_version", ASCENDING)])
            .limit(self.batch)
            .to_list()
        )
        if not rows:
            return 0
        streams: OrderedDict[str, list[Document]] = OrderedDict()
        for row in rows:
            streams.setdefault(row["aggregate_id"], []).append(row)
        confirmed: list[Document] = []
        results = await asyncio.gather(
            *(
                self._publish_stream(sorted(s, key=lambda r: r["aggregate_version"]), confirmed)
                for s in streams.values()
            ),
            return_exceptions=True,
        )
        # One write marks every confirmed row, instead of one per row. A crash before it
        # leaves them unsent and they are published again (at-least-once, as before: the
        # consumers' inbox drops the duplicates); a stream that failed half-way is marked up
        # to its last confirmed row, so its next attempt resumes in order after it.
        await self.mark_sent(confirmed)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(confirmed)

    async def _publish_stream(self, rows: list[Document], confirmed: list[Document]) -> None:
        """One aggregate's rows, strictly in version order; stop at the first failure."""
        for row in rows:
            await self.publish(row)
            confirmed.append(row)

    async def publish(self, row: Document) -> None:
        envelope: dict[str, Any] = row["envelope"]
        headers = {
            "event_type": envelope["event_type"],
            "schema_version": envelope["schema_version"],
            "producer": envelope["producer"],
        }
        if envelope.get("traceparent"):
            headers["traceparent"] = envelope["traceparent"]
        if envelope.get("tracestate"):
            headers["tracestate"] = envelope["tracestate"]
        await self.broker.publish(
            json.dumps(envelope, separators=(",", ":")).encode(),
            exchange=self.exchange,
            routing_key=envelope["event_type"],
            mandatory=True,
            persist=True,
            message_id=envelope["event_id"],
            correlation_id=envelope["correlation_id"],
            content_type="application/json",
            message_type=envelope["event_type"],
            headers=headers,
            timeout=10.0,
        )
        OUTBOX_PUBLISHED.labels(self.service, envelope["event_type"]).inc()

    async def mark_sent(self, rows: list[Document]) -> None:
        if not rows:
            return
        query: Document = (
            {"_id": rows[0]["_id"]}
            if len(rows) == 1
            else {"_id": {"$in": [r["_id"] for r in rows]}}
        )
        await self.outbox.update_many(
            query,
            {"$set": {"sent": True, "sent_at": datetime.now(UTC)}, "$inc": {"attempts": 1}},
        )

    async def refresh_backlog_metrics(self) -> int:
        backlog = await self.outbox.count_documents({"sent": False})
        OUTBOX_BACKLOG.labels(self.service).set(backlog)
        oldest = await self.outbox.find_one(
            {"sent": False}, sort=[("created_at", ASCENDING)], projection={"created_at": 1}
        )
        age = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)
        return backlog
