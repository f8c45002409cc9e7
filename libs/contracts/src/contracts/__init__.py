"""Shared contracts: the event envelope, every domain event, and RFC 9457 problem details.

Only pydantic lives here; every service imports it, none of them imports another service.
"""

from contracts.envelope import EventEnvelope
from contracts.events import (
    EVENT_TYPES,
    AnswersSubmitted,
    DomainEvent,
    PaymentFailed,
    PlanDowngraded,
    PlanUpgraded,
    SessionFailed,
    SessionReady,
    SessionRequested,
    SessionRescoreRequested,
    SessionScored,
    SessionStatusChanged,
    UnknownEventType,
    UserDeleted,
    UserRegistered,
    UserRoleChanged,
    parse_payload,
)
from contracts.problem import Problem

__all__ = [
    "EVENT_TYPES",
    "AnswersSubmitted",
    "DomainEvent",
    "EventEnvelope",
    "PaymentFailed",
    "PlanDowngraded",
    "PlanUpgraded",
    "Problem",
    "SessionFailed",
    "SessionReady",
    "SessionRequested",
    "SessionRescoreRequested",
    "SessionScored",
    "SessionStatusChanged",
    "UnknownEventType",
    "UserDeleted",
    "UserRegistered",
    "UserRoleChanged",
    "parse_payload",
]
