"""Public HTTP API schemas (SPEC.md section 2) shared by the gateway's OpenAPI and the
services that implement them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)


class RegisterRequest(_In):
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["Ada Lovelace"])]
    email: Annotated[str, Field(min_length=3, max_length=254, examples=["ada@example.com"])]
    password: Annotated[
        str,
        Field(min_length=10, max_length=128, description="10-128 characters, not only one kind."),
    ]


class LoginRequest(_In):
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshRequest(_In):
    refresh_token: Annotated[
        str | None,
        Field(default=None, max_length=200, description="Or send the refresh_token cookie."),
    ] = None


class LogoutRequest(RefreshRequest):
    pass


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class UserOut(BaseModel):
    id: str
    name: str
    email: str
    role: Literal["user", "admin"]
    created_at: datetime


class Quota(BaseModel):
    weekly_limit: int
    used: int
    remaining: int
    resets_at: datetime = Field(description="Next Monday 00:00 UTC.")


class Me(UserOut):
    # unverified users may practise: the flag is shown, nothing is withheld for it
    email_verified: bool = Field(
        default=False, description="The owner opened the link mailed to this address."
    )
    plan: Literal["free", "premium"]
    quota: Quota


# ---------------------------------------------------------------------------------------
# accounts


class ProfileUpdate(_In):
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["Ada King"])]


class PasswordChange(_In):
    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Annotated[
        str,
        Field(min_length=10, max_length=128, description="10-128 characters, not only one kind."),
    ]


class PasswordForgot(_In):
    email: Annotated[str, Field(min_length=3, max_length=320, examples=["ada@example.com"])]


class PasswordReset(_In):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Annotated[
        str,
        Field(min_length=10, max_length=128, description="10-128 characters, not only one kind."),
    ]


class EmailVerification(_In):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class NotificationPreferences(BaseModel):
    """Which mail the user gets. Account security mail (email verification, password reset)
    is always sent and is not listed."""

    report_ready: bool = Field(description="Your report is ready (score and a link).")
    session_failed: bool = Field(
        description="An interview could not be finished (the credit came back)."
    )
    quota_reached: bool = Field(
        description="You have started the last interview your plan allows this week."
    )
    billing: bool = Field(description="Receipts, failed payments and plan changes.")


class NotificationPreferencesUpdate(_In):
    """The kinds to change; kinds left out keep their setting."""

    report_ready: bool | None = None
    session_failed: bool | None = None
    quota_reached: bool | None = None
    billing: bool | None = None


class Unsubscribe(_In):
    token: Annotated[
        str,
        Field(min_length=1, max_length=400, description="The token of a mail's unsubscribe link."),
    ]


class Unsubscribed(BaseModel):
    kinds: list[str] = Field(description="The kinds of mail now turned off.")
    detail: str = Field(examples=["You will no longer get these emails: report ready."])


class Accepted(BaseModel):
    detail: str = Field(
        description="The same words whether or not an account has this address.",
        examples=["If an account has this address, a reset link is on its way."],
    )


# ---------------------------------------------------------------------------------------
# interviews: what a candidate sends

SessionType = Literal["coding", "behavioral", "mixed"]
DifficultyLevel = Literal["easy", "medium", "hard"]
Language = Literal["python", "javascript"]
QuestionId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")]


class StartInterviewRequest(_In):
    type: SessionType
    difficulty: DifficultyLevel | None = None
    tags: Annotated[list[Tag] | None, Field(max_length=10)] = None
    question_count: Annotated[int | None, Field(ge=1, le=5)] = None
    time_limit_minutes: Annotated[
        int | None,
        Field(
            ge=5,
            le=240,
            description="Optional: the session shows deadline_at; at the deadline the saved "
            "draft is submitted once, automatically.",
        ),
    ] = None


class AnswerIn(_In):
    question_id: QuestionId
    response: Annotated[str, Field(max_length=20_000)]
    language: Language | None = Field(default=None, description="Coding answers only.")


class SubmitRequest(_In):
    answers: Annotated[list[AnswerIn], Field(min_length=1, max_length=10)]


class DraftRequest(_In):
    answers: Annotated[list[AnswerIn], Field(max_length=10)]


class RunRequest(_In):
    question_id: QuestionId
    language: Language
    code: Annotated[str, Field(min_length=1, max_length=20_000)]


class CheckoutRequest(_In):
    plan: Annotated[str, Field(min_length=1, max_length=40, examples=["premium"])]


# ---------------------------------------------------------------------------------------
# interviews: what a candidate gets back

_OPEN = ConfigDict(extra="allow")


class Example(BaseModel):
    input: Any = Field(description="Arguments passed to the function.")
    expected: Any


class RubricDimension(BaseModel):
    model_config = _OPEN
    dimension: str
    description: str = ""


class QuestionOut(BaseModel):
    """A question as the candidate sees it (admins get the stored document, with more)."""

    model_config = _OPEN
    id: str = Field(description="Send it back as `question_id` with an answer.")
    type: Literal["coding", "behavioral"]
    title: str
    prompt: str
    difficulty: DifficultyLevel
    tags: list[str] = []
    examples: list[Example] | None = Field(default=None, description="Coding: visible examples.")
    signatures: dict[str, str] | None = Field(default=None, description="Coding: per language.")
    function_name: str | None = None
    rubric: list[RubricDimension] | None = Field(
        default=None, description="Behavioural: what each dimension asks for."
    )
    competencies: list[str] | None = None


class QuestionPage(BaseModel):
    items: list[QuestionOut]
    total: int
    limit: int
    offset: int


class TestResultOut(BaseModel):
    model_config = _OPEN
    test_id: str
    verdict: str
    detail: str | None = None
    visible: bool = False
    time_ms: int | None = Field(default=None, description="Visible examples only.")


class DimensionOut(BaseModel):
    model_config = _OPEN
    dimension: str
    score: int
    evidence: list[str] = Field(default=[], description="Quoted verbatim from the answer.")
    comment: str = ""


class AnswerResultOut(BaseModel):
    model_config = _OPEN
    question_id: str
    score: int
    verdict: Literal["scored", "insufficient"] = "scored"
    reason: str | None = Field(default=None, description="Why the answer was insufficient.")
    dimensions: list[DimensionOut] = []
    tests: list[TestResultOut] = []
    strengths: list[str] = []
    improvements: list[str] = []
    model_answer_outline: str = ""


class StatusFrame(BaseModel):
    """One status change of a session: an SSE `status` event's data, live or replayed, and
    an entry of the session's `history`."""

    status: Literal["queued", "ready", "scoring", "completed", "failed"]
    sequence: int = Field(description="Increases by one per change; the SSE event id.")
    reason: str | None = Field(default=None, description="Why it failed, for a person.")
    overall_score: int | None = Field(default=None, description="Set on `completed`.")
    at: datetime


class DraftOut(BaseModel):
    answers: list[AnswerIn]
    version: int = Field(description="Send it back as If-Match to save over this draft.")
    saved_at: datetime


class SessionOut(BaseModel):
    model_config = _OPEN
    id: str
    type: SessionType
    status: Literal["queued", "ready", "scoring", "completed", "failed"]
    difficulty: DifficultyLevel | None = None
    questions: list[QuestionOut] = []
    answers: list[AnswerIn] = []
    results: list[AnswerResultOut] = []
    overall_score: int | None = None
    insufficient_answers: int | None = Field(
        default=None, description="Answers that said too little to be scored (each counts 0)."
    )
    summary: str | None = None
    failure_reason: str | None = None
    transcript_url: str | None = None
    draft: DraftOut | None = None
    deadline_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    history: list[StatusFrame] = []


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    limit: int
    offset: int


class SubmitAccepted(BaseModel):
    id: str
    status: Literal["scoring"]


class ExampleRun(BaseModel):
    """One visible example run against the candidate's code."""

    model_config = _OPEN
    test_id: str
    verdict: str
    input: Any
    expected: Any
    got: str | None = Field(default=None, description="What the code returned, as JSON (capped).")
    detail: str | None = Field(default=None, description="On a wrong answer: expected vs got.")
    output: str | None = Field(
        default=None, description="What the code printed (stdout and stderr), capped."
    )
    time_ms: int | None = None


class RunResult(BaseModel):
    question_id: str
    language: Language
    passed: int
    total: int
    examples: list[ExampleRun]
    compile_error: str | None = None
    output: str = Field(
        default="",
        description="What the code printed (stdout and stderr), the last 4000 characters.",
    )


# ---------------------------------------------------------------------------------------
# progress


class WeeklyScore(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W49.")
    average: float
    answers: int


class ProgressLine(BaseModel):
    name: str
    kind: Literal["competency", "dimension"]
    weeks: list[WeeklyScore]


class QuestionProgress(BaseModel):
    question_id: str
    best: int
    latest: int
    attempts: int
    latest_at: datetime


class Progress(BaseModel):
    sessions_completed: int
    competencies: list[ProgressLine]
    dimensions: list[ProgressLine]
    questions: list[QuestionProgress]


# ---------------------------------------------------------------------------------------
# billing and admin


class CheckoutStarted(BaseModel):
    checkout_url: str
    session_id: str


class SubscriptionOut(BaseModel):
    model_config = _OPEN
    plan: Literal["free", "premium"]
    status: str
    weekly_limit: int
    next_billing_date: datetime | None = None
    cancel_at_period_end: bool = False


class WebhookReceived(BaseModel):
    received: bool
    event_id: str | None = None
    outcome: str | None = None


class AdminStats(BaseModel):
    model_config = _OPEN
    unavailable: list[str] = Field(description="Services whose figures are missing.")


class RescoreAccepted(BaseModel):
    id: str
    status: Literal["rescoring"]


class Transcript(BaseModel):
    """The stored transcript, as its owner may read it (`?format=markdown` for text)."""

    model_config = _OPEN
    session_id: str
    overall_score: int
    model: str
    entries: list[dict[str, Any]]
