"""What the AI runner's use cases need from the outside: a grader (the offline one or a model,
so the job flow does not care which is configured), the lease queue of jobs and the store of
transcripts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from contracts.events import (
    Answer,
    AnswerResult,
    BehavioralQuestionSnapshot,
    CodingQuestionSnapshot,
    QuestionGuidance,
)
from servicekit.mongo import AsyncClientSession, Document


@dataclass
class Usage:
    """One grader's spend on a session: added up across calls."""

    model: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    latency_ms: float = 0.0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        self.retries += other.retries
        self.latency_ms += other.latency_ms


@dataclass(frozen=True)
class JudgeSummary:
    """What the grader is told about the code's test run (never the hidden tests' values)."""

    passed: int
    total: int
    score: float  # weighted share of tests passed, 0..1
    compile_error: str | None
    verdicts: dict[str, int]  # verdict -> count


class ProviderFailed(Exception):
    """The model provider could not answer after all retries: fail the session cleanly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Grader(Protocol):
    model: str  # recorded with every result, e.g. "offline-1" or "gemini-2.0-flash"
    prompt_version: str

    async def introduce(
        self, questions: list[CodingQuestionSnapshot | BehavioralQuestionSnapshot]
    ) -> tuple[str, list[QuestionGuidance], Usage]:
        """The interviewer's introduction and per-question guidance."""
        ...

    async def grade_behavioral(
        self, question: BehavioralQuestionSnapshot, answer: str
    ) -> tuple[AnswerResult, Usage]:
        """Every rubric dimension scored 0-100 with evidence quoted verbatim from `answer`."""
        ...

    async def review_code(
        self, question: CodingQuestionSnapshot, answer: Answer, judge: JudgeSummary
    ) -> tuple[AnswerResult, Usage]:
        """Approach, complexity and clarity reviewed; `tests` are filled in by the caller."""
        ...


class TranscriptStore(Protocol):
    """Where transcripts are kept (`adapters.transcripts`: S3, or a local folder)."""

    async def put(self, key: str, body: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def ready(self) -> bool: ...


class LeaseQueue(Protocol):
    """The jobs waiting for a worker, claimed with a lease (`adapters.job_queue.JobQueue`)."""

    worker_id: str
    wake: asyncio.Event  # set when a job is announced

    def announce(self, job_id: str, status: str) -> None: ...

    async def add_to_prepare(
        self,
        job_id: str,
        fields: dict[str, Any],
        correlation_id: str | None,
        traceparent: str | None,
    ) -> None: ...

    async def add_to_score(
        self,
        job_id: str,
        answers: list[dict[str, Any]],
        correlation_id: str | None,
        traceparent: str | None,
    ) -> None: ...

    async def add_to_rescore(
        self, job_id: str, requested_by: str, session: AsyncClientSession
    ) -> None: ...

    async def abandon(self, job_id: str) -> bool: ...

    async def claim_announced(self) -> Document | None: ...

    async def claim(self) -> Document | None: ...

    async def retry_soon(self, job_id: str) -> None: ...

    async def release(self, job_ids: list[str]) -> int: ...

    async def finish(
        self, job_id: str, status: str, extra: dict[str, Any], session: AsyncClientSession
    ) -> None: ...

    async def get(self, job_id: str, fields: dict[str, int] | None = None) -> Document | None: ...

    async def count(self, status: str) -> int: ...

    async def usage_by_status(self) -> dict[str, Document]: ...
