"""What a use case changes the store through, as a protocol: the database and the event store
(from which it builds its repositories and projections), and `command`, which runs its work in
one transaction (retried on fresh state when an append conflicts) and wakes the outbox relay
once it has committed. `ServiceRuntime` is the one the services run on; a use case that takes
a `UnitOfWork` does not depend on the runtime's broker, web app or lifecycle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from servicekit.eventstore import EventStore
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

T = TypeVar("T")


class UnitOfWork(Protocol):
    @property
    def db(self) -> AsyncDatabase[Document]:
        """The service's database (exists once the service has started)."""
        ...

    @property
    def store(self) -> EventStore:
        """The service's event store."""
        ...

    async def command(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """`work` in one transaction, retried on append conflicts; the outbox relay is woken
        after the commit."""
        ...
