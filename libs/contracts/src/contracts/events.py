"""Every domain event of the platform: frozen, versioned pydantic models.

Add fields compatibly (with defaults). A breaking change is a new class with a higher
`schema_version` plus an upcaster registered with `register_upcaster`, so stored and
in-flight events of the old version still parse into the current model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# ---------------------------------------------------------------------------
# base and registry


class DomainEvent(BaseModel):
    """Base of every event: the payload inside an `EventEnvelope`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


EVENT_TYPES: dict[str, type[DomainEvent]] = {}
"""Current model of each event type."""

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventType(ValueError):
    """An event type or schema version this build cannot read."""


def event(cls: type[DomainEvent]) -> type[DomainEvent]:
    """Class decorator: register the current version of an event type."""
    cls.event_type = cls.__name__
    EVENT_TYPES[cls.event_type] = cls
    return cls


def register_upcaster(event_type: str, from_version: int, upcaster: Upcaster) -> None:
    """Teach the registry to lift payloads of `from_version` to `from_version + 1`."""
    _UPCASTERS[(event_type, from_version)] = upcaster


def parse_payload(event_type: str, schema_version: int, payload: dict[str, Any]) -> DomainEvent:
    """Validate a payload into the current model of its type, upcasting older versions."""
    model = EVENT_TYPES.get(event_type)
    if model is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    if schema_version > model.schema_version:
        raise UnknownEventType(
            f"{event_type} v{schema_version} is newer than this build's v{model.schema_version}"
        )
    data = dict(payload)
    version = schema_version
    while version < model.schema_version:
        upcaster = _UPCASTERS.get((event_type, version))
        if upcaster is None:
            raise UnknownEventType(f"no upcaster for {event_type} v{version}")
        data = upcaster(data)
        version += 1
    return model.model_validate(data)


# ---------------------------------------------------------------------------
# shared value types

SessionType = Literal["coding", "behavioral", "mixed"]
Difficulty = Literal["easy", "medium", "hard"]
PlanName = Literal["free", "premium"]
Verdict = Literal[
    "accepted",
    "wrong_answer",
    "runtime_error",
    "time_limit_exceeded",
    "memory_limit_exceeded",
    "output_limit_exceeded",
    "compile_error",
]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HiddenTest(_Value):
    test_id: str
    input: Any = Field(description="Arguments passed to the candidate's function.")
    expected: Any
    visible: bool = Field(default=False, description="Shown to the candidate as an example.")
    weight: float = Field(default=1.0, gt=0)


Comparison = Literal["exact", "unordered", "float"]


class CodingQuestionSnapshot(_Value):
    """What the session was given of a coding question, frozen at request time."""

    kind: Literal["coding"] = "coding"
    question_id: str
    version: int = Field(ge=1)
    title: str
    prompt: str
    difficulty: Difficulty
    tags: tuple[str, ...] = ()
    function_name: str = Field(description="Same name in every language.")
    signatures: dict[str, str] = Field(description="Language -> function signature.")
    tests: tuple[HiddenTest, ...]
    comparison: Comparison = Field(
        default="exact", description="exact; unordered (top-level list order ignored); float."
    )
    time_limit_ms: int = Field(default=2000, gt=0)
    memory_limit_mb: int = Field(default=256, gt=0)
    rubric: tuple[str, ...] = ()
    optimal_complexity: str = ""


class RubricLevel(_Value):
    dimension: str
    description: str = Field(description="What a strong answer shows on this dimension.")
    levels: dict[str, str] = Field(
        default_factory=dict, description="Score band ('1', '3', '5') -> what it looks like."
    )
    weight: float = Field(default=1.0, gt=0)


class BehavioralQuestionSnapshot(_Value):
    kind: Literal["behavioral"] = "behavioral"
    question_id: str
    version: int = Field(ge=1)
    title: str
    prompt: str
    difficulty: Difficulty = "medium"
    tags: tuple[str, ...] = ()
    competencies: tuple[str, ...] = ()
    rubric: tuple[RubricLevel, ...]
    follow_ups: tuple[str, ...] = ()


QuestionSnapshot = Annotated[
    CodingQuestionSnapshot | BehavioralQuestionSnapshot, Field(discriminator="kind")
]


class Answer(_Value):
    question_id: str
    response: str = Field(max_length=20_000)
    language: str | None = None


class TestResult(_Value):
    test_id: str
    verdict: Verdict
    time_ms: int | None = None
    memory_kb: int | None = None
    detail: str | None = Field(default=None, description="Expected vs got, visible tests only.")
    visible: bool = Field(
        default=False, description="An example shown to the candidate (not a hidden test)."
    )
    output: str | None = Field(
        default=None,
        max_length=2000,
        description="What the code printed during this test: visible examples only.",
    )
    got: str | None = Field(
        default=None, description="What the code returned, as JSON (capped): visible only."
    )


class DimensionScore(_Value):
    dimension: str
    score: int = Field(ge=0, le=100)
    evidence: tuple[str, ...] = Field(default=(), description="Quotes verbatim from the answer.")
    comment: str = ""


class AnswerResult(_Value):
    question_id: str
    score: int = Field(ge=0, le=100)
    verdict: Literal["scored", "insufficient"] = Field(
        default="scored",
        description="insufficient: empty, too short, garbled or not in the interview's "
        "language; no score was made up (it counts as 0 in the overall score).",
    )
    reason: str | None = Field(default=None, description="Why it was insufficient, for a person.")
    dimensions: tuple[DimensionScore, ...] = ()
    tests: tuple[TestResult, ...] = ()
    strengths: tuple[str, ...] = ()
    improvements: tuple[str, ...] = ()
    model_answer_outline: str = ""


class AIUsage(_Value):
    model: str
    calls: int = Field(default=0, ge=0)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)


# ---------------------------------------------------------------------------
# auth


@event
class UserRegistered(DomainEvent):
    user_id: str
    email: str
    name: str
    role: Literal["user", "admin"] = "user"
    registered_at: AwareDatetime


@event
class UserRoleChanged(DomainEvent):
    user_id: str
    role: Literal["user", "admin"]
    changed_at: AwareDatetime
    reason: str = ""


@event
class UserRenamed(DomainEvent):
    user_id: str
    name: str
    renamed_at: AwareDatetime


@event
class PasswordChanged(DomainEvent):
    """The password was changed by its owner (never carries the password or its hash)."""

    user_id: str
    changed_at: AwareDatetime


@event
class PasswordResetRequested(DomainEvent):
    """Someone asked for a password reset of this account. `token` is the plain single-use
    token: auth keeps only its SHA-256 hash; the plain value travels only in this event to
    the notifications service, which needs it to build the link it mails to the owner."""

    user_id: str
    email: str
    name: str
    token: str
    expires_at: AwareDatetime


@event
class EmailVerificationRequested(DomainEvent):
    """A verification link should be mailed (at registration or on request). As with
    `PasswordResetRequested`, the plain token travels only in this event to notifications."""

    user_id: str
    email: str
    name: str
    token: str
    expires_at: AwareDatetime


@event
class EmailVerified(DomainEvent):
    """The owner proved they read mail at the account's address."""

    user_id: str
    email: str
    verified_at: AwareDatetime


@event
class UserDeleted(DomainEvent):
    """The account is gone: its tokens stop working everywhere at once."""

    user_id: str
    deleted_at: AwareDatetime


# ---------------------------------------------------------------------------
# interviews


@event
class SessionRequested(DomainEvent):
    session_id: str
    user_id: str
    session_type: SessionType
    difficulty: Difficulty | None = None
    questions: tuple[QuestionSnapshot, ...] = Field(min_length=1)
    quota_week: str = Field(
        pattern=r"^\d{4}-W\d{2}$", description="ISO week the quota was taken from."
    )
    requested_at: AwareDatetime
    time_limit_minutes: int | None = Field(
        default=None, ge=1, description="Timed interview: minutes from ready to the deadline."
    )
    # the week's quota as this session left it (None from producers before they were added):
    # notifications mails the user when this was the last interview their plan allows
    plan: PlanName | None = None
    quota_used: int | None = Field(default=None, ge=0)
    weekly_limit: int | None = Field(default=None, ge=0)


@event
class AnswersSubmitted(DomainEvent):
    session_id: str
    user_id: str
    answers: tuple[Answer, ...] = Field(min_length=1)
    submitted_at: AwareDatetime
    automatic: bool = Field(
        default=False, description="Submitted from the saved draft when the time limit passed."
    )


SessionStatus = Literal["queued", "ready", "scoring", "completed", "failed"]


@event
class SessionStatusChanged(DomainEvent):
    """Published by interviews on every status change, for live updates (SSE)."""

    session_id: str
    user_id: str
    status: SessionStatus
    sequence: int = Field(ge=1, description="Grows with every change; the SSE event id.")
    reason: str | None = None
    overall_score: int | None = None
    changed_at: AwareDatetime


# ---------------------------------------------------------------------------
# ai-runner


class QuestionGuidance(_Value):
    question_id: str
    guidance: str


@event
class SessionReady(DomainEvent):
    session_id: str
    user_id: str
    introduction: str
    guidance: tuple[QuestionGuidance, ...] = ()
    ready_at: AwareDatetime


@event
class SessionScored(DomainEvent):
    session_id: str
    user_id: str
    overall_score: int = Field(ge=0, le=100)
    results: tuple[AnswerResult, ...]
    summary: str = ""
    transcript_key: str | None = None
    usage: AIUsage | None = None
    scored_at: AwareDatetime
    insufficient_answers: int = Field(
        default=0, ge=0, description="Answers that said too little to be scored."
    )


@event
class SessionRescoreRequested(DomainEvent):
    """An admin asked the AI runner to score a session again (a new model or rubric); the
    old result stays in the session's history."""

    session_id: str
    user_id: str
    requested_by: str
    requested_at: AwareDatetime


@event
class SessionFailed(DomainEvent):
    session_id: str
    user_id: str
    reason: str = Field(description="A reason a person can read.")
    stage: Literal["preparing", "scoring", "deadline"]
    failed_at: AwareDatetime


# ---------------------------------------------------------------------------
# billing


@event
class PlanUpgraded(DomainEvent):
    user_id: str
    plan: PlanName
    weekly_limit: int = Field(ge=0)
    subscription_id: str | None = None
    effective_at: AwareDatetime
    current_period_end: datetime | None = None
    # what the plan costs, for the receipt (None from producers before they were added)
    monthly_price: int | None = Field(default=None, ge=0, description="Minor units (cents).")
    currency: str | None = Field(default=None, min_length=3, max_length=3)


@event
class PlanDowngraded(DomainEvent):
    user_id: str
    from_plan: PlanName
    plan: PlanName
    weekly_limit: int = Field(ge=0)
    reason: Literal["canceled", "payment_failed", "deleted"]
    effective_at: AwareDatetime


@event
class PaymentFailed(DomainEvent):
    user_id: str
    subscription_id: str | None = None
    invoice_id: str
    amount: int = Field(ge=0, description="Minor units (cents).")
    currency: str = Field(min_length=3, max_length=3)
    attempt: int = Field(default=1, ge=1)
    grace_until: AwareDatetime | None = Field(
        default=None, description="Premium is kept until then while Stripe retries."
    )
    failed_at: AwareDatetime
