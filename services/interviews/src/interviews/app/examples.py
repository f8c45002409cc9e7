"""Run examples: a candidate's code against the visible examples of one question of their
`ready` session, in the same sandbox as judging, answered at once. Hidden tests never run
here and no quota is used. Runs are capped per process (a slot each, a short queue, then
429 `run_busy`); the gateway limits them per user."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from codejudge import JudgeFailure, SandboxUnavailable
from contracts.events import CodingQuestionSnapshot
from prometheus_client import Counter
from servicekit.metrics import REGISTRY
from servicekit.problems import DomainError

EXAMPLE_RUNS = Counter(
    "interview_example_runs_total",
    "POST /interviews/{id}/run by outcome (ran, busy, unavailable).",
    ["outcome"],
    registry=REGISTRY,
)


class Judge(Protocol):
    async def run(self, **kwargs: Any) -> Any: ...


class RunBusy(DomainError):
    status = 429
    code = "run_busy"
    title = "Too many example runs at once"


class ExampleRunner:
    def __init__(self, judge: Judge, concurrency: int, queue: int) -> None:
        self.judge = judge
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0
        self._queue = queue

    async def run(
        self, question: CodingQuestionSnapshot, language: str, code: str
    ) -> dict[str, Any]:
        examples = [t for t in question.tests if t.visible]
        if language not in question.signatures:
            raise DomainError(
                f"language: this question is offered in {', '.join(sorted(question.signatures))}.",
                status=422,
                code="validation_error",
                title="Validation failed",
            )
        if self._slots.locked() and self._waiting >= self._queue:
            EXAMPLE_RUNS.labels("busy").inc()
            raise RunBusy(
                "Many example runs are waiting; try again in a few seconds.",
                headers={"Retry-After": "3"},
            )
        self._waiting += 1
        entered = False
        try:
            async with self._slots:
                self._waiting -= 1
                entered = True
                report = await self._judge(question, examples, language, code)
        finally:
            if not entered:  # cancelled while waiting for a slot
                self._waiting -= 1
        EXAMPLE_RUNS.labels("ran").inc()
        runs = [
            {
                "test_id": result.test_id,
                "verdict": result.verdict,
                "input": example.input,
                "expected": example.expected,
                "got": result.got,
                "detail": result.detail,
                "output": result.output,
                "time_ms": result.time_ms,
            }
            for example, result in zip(examples, report.results, strict=True)
        ]
        return {
            "question_id": question.question_id,
            "language": language,
            "passed": report.passed,
            "total": report.total,
            "examples": runs,
            "compile_error": report.compile_error,
        }

    async def _judge(
        self, question: CodingQuestionSnapshot, examples: list[Any], language: str, code: str
    ) -> Any:
        try:
            return await self.judge.run(
                language=language,
                source=code,
                function_name=question.function_name,
                tests=examples,
                comparison=question.comparison,
                time_limit_ms=question.time_limit_ms,
                memory_limit_mb=question.memory_limit_mb,
            )
        except (SandboxUnavailable, JudgeFailure) as exc:
            EXAMPLE_RUNS.labels("unavailable").inc()
            raise DomainError(
                "Code cannot be run right now; your answer is safe, try again shortly.",
                status=503,
                code="sandbox_unavailable",
                title="Code runner unavailable",
                headers={"Retry-After": "10"},
            ) from exc
