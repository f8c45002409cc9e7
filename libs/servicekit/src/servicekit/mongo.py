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
import json
import os
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


def _filters(command_name: str, command: Any) -> list[Any]:
    """The filters a command selects documents by (none for inserts and cursors)."""
    if command_name == "count" and not command.get("query"):
        return []  # estimated_document_count: the collection's metadata, no documents read
    if command_name in ("find", "count", "distinct"):
        key = "filter" if command_name == "find" else "query"
        return [command.get(key) or {}]
    if command_name == "findAndModify":
        return [command.get("query") or {}]
    if command_name == "update":
        return [u.get("q") or {} for u in command.get("updates", ())]
    if command_name == "delete":
        return [d.get("q") or {} for d in command.get("deletes", ())]
    if command_name == "aggregate":
        pipeline = command.get("pipeline") or [{}]
        first = pipeline[0] if pipeline else {}
        # $collStats, $indexStats and the like read no documents; a pipeline that starts
        # elsewhere than $match reads the whole collection
        if any(k in first for k in ("$collStats", "$indexStats", "$listSessions")):
            return []
        return [first.get("$match") or {}]
    return []


def query_shape(selector: Any) -> dict[str, Any]:
    """The fields a filter pins, without their values: {"fields": [...], "or": [[...], ...]}.
    `$and` pins the union of its parts; each `$or` branch is a shape of its own."""
    fields: set[str] = set()
    branches: list[dict[str, Any]] = []
    for key, value in (selector or {}).items():
        if key == "$and":
            for part in value:
                inner = query_shape(part)
                fields.update(inner["fields"])
                branches.extend(inner["or"])
        elif key == "$or":
            branches.extend(query_shape(part) for part in value)
        elif not key.startswith("$"):
            fields.add(key)
    return {"fields": sorted(fields), "or": branches}


class QueryShapeLog(monitoring.CommandListener):
    """Development and test aid (MONGO_QUERY_LOG=<dir>): writes each distinct (database,
    collection, command, filter shape) a process sends, once, as a JSON line in
    <dir>/<service>-<pid>.jsonl. tests/e2e checks every shape the journeys produced against
    the collection's indexes (tests/e2e/query_audit.py)."""

    def __init__(self, service: str, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{service}-{os.getpid()}.jsonl")
        self.service = service
        self._seen: set[str] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        for selector in _filters(name, event.command):
            line = json.dumps(
                {
                    "service": self.service,
                    "db": event.database_name,
                    "collection": _collection(name, event.command),
                    "command": name,
                    "shape": query_shape(selector),
                    "origin": _ORIGIN.get(),
                },
                sort_keys=True,
            )
            if line in self._seen:
                continue
            self._seen.add(line)
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line + "\n")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def connect(
    uri: str,
    app_name: str,
    socket_timeout_ms: int = 8000,
    breaker: StoreBreaker | None = None,
) -> AsyncMongoClient[Document]:
    """The service's client; every command it sends is counted, and feeds `breaker`."""
    listeners: list[monitoring.CommandListener] = [CommandCounter(app_name, breaker)]
    if query_log := os.environ.get("MONGO_QUERY_LOG"):
        listeners.append(QueryShapeLog(app_name, query_log))
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
        event_listeners=listeners,
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
    "query_shape",
    "set_origin",
]
