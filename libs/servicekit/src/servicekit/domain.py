"""The pure domain kernel: what a service's `domain/` builds on, importing neither the store
(pymongo) nor the web framework (FastAPI), so aggregates and their rules load and test on
their own. `servicekit.eventstore` stores aggregates; `servicekit.problems` turns
`DomainError` into problem+json; both re-export these names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from contracts import DomainEvent


class DomainError(Exception):
    """Raise (or subclass) from any layer; the handler turns it into problem+json."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extra = extra


class Aggregate:
    """State is a fold of events. Subclasses implement `when` (pure, no I/O) and raise domain
    exceptions from command methods before calling `record`."""

    aggregate_type: ClassVar[str]
    local_events: ClassVar[frozenset[str]] = frozenset()
    """Event types kept in the stream but not published: facts this service learned from
    another service's event (which is already on the bus)."""

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.pending: list[DomainEvent] = []

    def when(self, event: DomainEvent) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def record(self, event: DomainEvent) -> None:
        self.when(event)
        self.pending.append(event)

    @classmethod
    def from_history(cls: type[A], aggregate_id: str, history: Sequence[DomainEvent]) -> A:
        aggregate = cls(aggregate_id)
        for event in history:
            aggregate.when(event)
            aggregate.version += 1
        return aggregate


A = TypeVar("A", bound=Aggregate)


__all__ = ["A", "Aggregate", "DomainError"]
