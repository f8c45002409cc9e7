"""Event handlers as a map from event class to use case, one map per kind of consumer: each
use case is registered under its class's name and is called only with an event of that class
(anything else is a wiring mistake, not data to skip)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import DomainEvent, EventEnvelope

from servicekit.broker import EventHandler, StatelessHandler
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime

InTransaction = Callable[[Any, EventEnvelope, AsyncClientSession], Awaitable[None]]
Idempotent = Callable[[Any, EventEnvelope], Awaitable[None]]


def _checked(event_type: type[DomainEvent], event: DomainEvent) -> None:
    if not isinstance(event, event_type):
        raise TypeError(f"{event_type.__name__} consumer got {type(event).__name__}")


def consume_in_transaction(
    rt: ServiceRuntime, use_cases: Mapping[type[DomainEvent], InTransaction]
) -> None:
    """Each use case runs in the transaction that records the event in the inbox: handled
    once in effect, however often it is delivered."""
    for event_type, use_case in use_cases.items():
        rt.consumer(event_type.__name__)(_in_transaction(event_type, use_case))


def consume_idempotent(
    rt: ServiceRuntime, use_cases: Mapping[type[DomainEvent], Idempotent]
) -> None:
    """Each use case's effect is idempotent by itself (one conditional single-document write):
    no inbox row and no transaction, so a redelivery must change nothing by its own logic."""
    for event_type, use_case in use_cases.items():
        rt.stateless_consumer(event_type.__name__)(_idempotent(event_type, use_case))


def _in_transaction(event_type: type[DomainEvent], use_case: InTransaction) -> EventHandler:
    async def consume(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        _checked(event_type, event)
        await use_case(event, envelope, session)

    consume.__name__ = f"on_{event_type.__name__}"
    return consume


def _idempotent(event_type: type[DomainEvent], use_case: Idempotent) -> StatelessHandler:
    async def consume(event: DomainEvent, envelope: EventEnvelope) -> None:
        _checked(event_type, event)
        await use_case(event, envelope)

    consume.__name__ = f"on_{event_type.__name__}"
    return consume
