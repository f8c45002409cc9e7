"""Contracts: the envelope round trip, versioning, and the committed JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from contracts import (
    EVENT_TYPES,
    EventEnvelope,
    Problem,
    SessionRequested,
    UnknownEventType,
    UserRegistered,
    parse_payload,
)
from contracts.events import DomainEvent, event, register_upcaster
from contracts.schemas_export import DEFAULT_DIR, all_schemas, render
from pydantic import ValidationError

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_envelope_round_trips_through_json_and_back_to_the_typed_event() -> None:
    registered = UserRegistered(user_id="u1", email="a@b.co", name="Ada", registered_at=NOW)
    envelope = EventEnvelope.wrap(
        registered,
        producer="auth",
        aggregate_type="user",
        aggregate_id="u1",
        aggregate_version=1,
        correlation_id="corr-1",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    wire = envelope.model_dump_json()
    back = EventEnvelope.model_validate_json(wire)
    assert back == envelope
    assert back.event() == registered
    assert back.causation_id is None
    assert json.loads(wire)["event_type"] == "UserRegistered"


def test_occurred_at_is_normalised_to_utc_and_naive_times_are_refused() -> None:
    cet = timezone(timedelta(hours=1))
    env = EventEnvelope.wrap(
        UserRegistered(user_id="u", email="a@b.co", name="A", registered_at=NOW),
        producer="auth",
        aggregate_type="user",
        aggregate_id="u",
        aggregate_version=1,
        occurred_at=datetime(2026, 1, 1, 10, 0, tzinfo=cet),
    )
    assert env.occurred_at.utcoffset() == timedelta(0) and env.occurred_at.hour == 9
    with pytest.raises(ValidationError):
        UserRegistered(user_id="u", email="a@b.co", name="A", registered_at=datetime(2026, 1, 1))


def test_events_are_frozen_and_reject_unknown_fields() -> None:
    registered = UserRegistered(user_id="u", email="a@b.co", name="A", registered_at=NOW)
    with pytest.raises(ValidationError):
        registered.name = "B"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        UserRegistered(user_id="u", email="a@b.co", name="A", registered_at=NOW, password="x")  # type: ignore[call-arg]


def test_session_requested_carries_a_question_snapshot_of_either_kind() -> None:
    payload = {
        "session_id": "s1",
        "user_id": "u1",
        "session_type": "mixed",
        "quota_week": "2026-W48",
        "requested_at": NOW.isoformat(),
        "questions": [
            {
                "kind": "coding",
                "question_id": "two-sum",
                "version": 3,
                "title": "Two sum",
                "prompt": "...",
                "difficulty": "easy",
                "function_name": "two_sum",
                "signatures": {"python": "def two_sum(nums, target):"},
                "tests": [
                    {"test_id": "t1", "input": [[2, 7], 9], "expected": [0, 1], "visible": True}
                ],
            },
            {
                "kind": "behavioral",
                "question_id": "conflict-1",
                "version": 1,
                "title": "Conflict",
                "prompt": "Tell me about a conflict",
                "rubric": [{"dimension": "situation", "description": "clear context"}],
            },
        ],
    }
    parsed = parse_payload("SessionRequested", 1, payload)
    assert isinstance(parsed, SessionRequested)
    assert [q.kind for q in parsed.questions] == ["coding", "behavioral"]
    with pytest.raises(ValidationError):
        parse_payload("SessionRequested", 1, payload | {"quota_week": "48/2026"})


def test_unknown_types_and_future_versions_are_refused() -> None:
    with pytest.raises(UnknownEventType):
        parse_payload("NoSuchEvent", 1, {})
    with pytest.raises(UnknownEventType):
        parse_payload("UserRegistered", 99, {})


def test_older_versions_are_upcast_to_the_current_model() -> None:
    @event
    class ContractsTestRenamed(DomainEvent):
        schema_version = 2
        full_name: str

    register_upcaster("ContractsTestRenamed", 1, lambda p: {"full_name": p["name"]})
    try:
        upgraded = parse_payload("ContractsTestRenamed", 1, {"name": "Ada"})
        assert upgraded == ContractsTestRenamed(full_name="Ada")
        with pytest.raises(UnknownEventType):
            parse_payload("ContractsTestRenamed", 0, {})
    finally:
        EVENT_TYPES.pop("ContractsTestRenamed")


def test_problem_has_a_stable_code_and_type() -> None:
    problem = Problem.of(409, "email_taken", "Email already registered", "Try logging in.")
    body = problem.model_dump(exclude_none=True)
    assert body == {
        "type": "https://mock-interview.dev/problems/email-taken",
        "title": "Email already registered",
        "status": 409,
        "detail": "Try logging in.",
        "code": "email_taken",
    }
    with pytest.raises(ValidationError):
        Problem.of(409, "Email Taken", "x")


def test_every_platform_event_has_a_committed_schema_that_matches_the_code() -> None:
    expected = all_schemas()
    names = {n.split(".")[0] for n in expected} - {"EventEnvelope", "Problem"}
    assert {
        "UserRegistered",
        "SessionRequested",
        "SessionReady",
        "AnswersSubmitted",
        "SessionScored",
        "SessionFailed",
        "PlanUpgraded",
        "PlanDowngraded",
        "PaymentFailed",
    } <= names
    committed = {p.name for p in DEFAULT_DIR.glob("*.json")}
    assert committed == set(expected), "run `make contracts` and commit libs/contracts/schemas"
    for name, schema in expected.items():
        assert (DEFAULT_DIR / name).read_text() == render(schema), (
            f"{name} drifted from the code: run `make contracts` and commit the result"
        )


def test_event_ids_are_unique_per_wrap() -> None:
    e = UserRegistered(user_id="u", email="a@b.co", name="A", registered_at=NOW)
    ids = {
        EventEnvelope.wrap(
            e, producer="p", aggregate_type="user", aggregate_id="u", aggregate_version=1
        ).event_id
        for _ in range(100)
    }
    assert len(ids) == 100 and all(isinstance(i, uuid.UUID) for i in ids)
