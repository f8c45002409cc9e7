"""Mongo access on PyMongo's AsyncMongoClient: created inside the running loop (lifespan),
never shared across event loops or forks.

Every command a client sends is counted (`mongo_commands_total`, by command, collection,
origin and whether a read found nothing): on the development server each one costs about a
millisecond of its CPU, so commands per use case set the platform's speed, and a poll that
keeps finding nothing shows up as `origin` = the loop's name with `result="empty"`.
`bench/store_ops.py` reads these counters per use case.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.breaker import StoreBreaker, is_timeout
from servicekit.metrics import MONGO_COMMANDS

T = TypeVar("T")

Document = dict[str, Any]


_ORIGIN: contextvars.ContextVar[str] = contextvars.ContextVar("mongo_origin", default="work")


@contextmanager
def origin(name: str) -> Iterator[None]:
    """Label the commands sent inside this block (a background loop: `relay`, `jobs`...), so
    its idle polling can be told from the work a request or an event caused."""
    token = _ORIGIN.set(name)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def set_origin(name: str) -> None:
    """`origin` for a whole task (call it first thing in the task's coroutine)."""
    _ORIGIN.set(name)


def _collection(command_name: str, command: Any) -> str:
    target = command.get(command_name)
    if command_name == "getMore":
        target = command.get("collection")
    return target if isinstance(target, str) else ""


def _found_nothing(command_name: str, reply: Any) -> bool:
    if command_name in ("find", "aggregate", "getMore"):
        cursor = reply.get("cursor") or {}
        return not (cursor.get("firstBatch") or cursor.get("nextBatch"))
    if command_name == "findAndModify":
        return reply.get("value") is None
    return False


class CommandCounter(monitoring.CommandListener):
    """Counts commands as they finish. Runs synchronously in the task that sent the command,
    so the context variable names that task's origin. Costs a dict lookup or two per
    command, next to the ~1 ms the development server spends on it. Also tells the store
    breaker (servicekit.breaker) whether the store answers or times out."""

    def __init__(self, service: str, breaker: StoreBreaker | None = None) -> None:
        self.service = service
        self.breaker = breaker
        self._pending: dict[int, tuple[str, str, str]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        self._pending[event.request_id] = (name, _collection(name, event.command), _ORIGIN.get())

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if self.breaker is not None:
            self.breaker.command_succeeded()
        started = self._pending.pop(event.request_id, None)
        if started is None:
            return
        name, collection, source = started
        result = "empty" if _found_nothing(name, event.reply) else "ok"
        MONGO_COMMANDS.labels(self.service, name, collection, source, result).inc()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if self.breaker is not None:
            failure = event.failure
            if is_timeout(failure):
                self.breaker.command_timed_out()
            elif "code" in failure or "ok" in failure:
                self.breaker.command_succeeded()  # an answer that says no: the store answers
        started = self._pending.pop(event.request_id, None)
        if started is None:
            return
        name, collection, source = started
        MONGO_COMMANDS.labels(self.service, name, collection, source, "error").inc()


def connect(
    uri: str,
    app_name: str,
    socket_timeout_ms: int = 8000,
    breaker: StoreBreaker | None = None,
) -> AsyncMongoClient[Document]:
    """The service's client; every command it sends is counted, and feeds `breaker`."""
    return AsyncMongoClient(
        uri,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        # a server that takes connections and never answers (hung, SIGSTOPped) raises a
        # NetworkTimeout after this, which routes answer as 503 database_unavailable, before
        # the gateway's own 15 s timeout turns it into a slow 504 (found by the chaos suite)
        socketTimeoutMS=socket_timeout_ms,
        uuidRepresentation="standard",
        event_listeners=[CommandCounter(app_name, breaker)],
    )


async def in_transaction(
    client: AsyncMongoClient[Document],
    work: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run `work` in one transaction; PyMongo retries transient errors and unknown commits."""
    async with client.start_session() as session:
        return await session.with_transaction(work)


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


__all__ = [
    "AsyncClientSession",
    "AsyncDatabase",
    "AsyncMongoClient",
    "Document",
    "connect",
    "in_transaction",
    "origin",
    "ping",
    "set_origin",
]
