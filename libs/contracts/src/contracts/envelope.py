"""The one envelope every event travels in, on the bus and in the event store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.events import DomainEvent


class EventEnvelope(BaseModel):
    """Metadata around a domain event's payload (SPEC.md section 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(description="Unique id; consumers deduplicate on it.")
    event_type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(description="When it happened, UTC.")
    producer: str = Field(min_length=1, max_length=60, description="Producing service.")
    aggregate_type: str = Field(min_length=1, max_length=60)
    aggregate_id: str = Field(min_length=1, max_length=200)
    aggregate_version: int = Field(ge=1)
    correlation_id: str = Field(min_length=1, max_length=200)
    causation_id: str | None = Field(default=None, max_length=200)
    traceparent: str | None = Field(default=None, max_length=55, description="W3C trace context.")
    tracestate: str | None = Field(default=None, max_length=512)
    payload: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def wrap(
        cls,
        event: DomainEvent,
        *,
        producer: str,
        aggregate_type: str,
        aggregate_id: str,
        aggregate_version: int,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> EventEnvelope:
        eid = event_id or uuid.uuid4()
        return cls(
            event_id=eid,
            event_type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            correlation_id=correlation_id or str(eid),
            causation_id=causation_id,
            traceparent=traceparent,
            tracestate=tracestate,
            payload=event.model_dump(mode="json"),
        )

    def event(self) -> DomainEvent:
        """The typed event inside, upcast to the current schema version."""
        from contracts.events import parse_payload

        return parse_payload(self.event_type, self.schema_version, self.payload)
