"""interviews composition root."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from codejudge import Judge, JudgeSettings
from fastapi import FastAPI
from servicekit.identity import auth_verifier
from servicekit.logs import get_logger
from servicekit.periodic import every
from servicekit.problems import DomainError
from servicekit.runtime import ServiceRuntime

from interviews.adapters.bank import QuestionBank, load_seed
from interviews.app.examples import ExampleRunner
from interviews.app.sessions import Clock, Interviews
from interviews.entrypoints.consumers import register_consumers
from interviews.entrypoints.http import router
from interviews.settings import Settings

log = get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def check_reference_solutions(question: Any) -> None:
    """A coding question is accepted only if its reference solutions pass its own tests."""
    judge = Judge(JudgeSettings(max_concurrency=1))
    for language, source in question.reference_solutions.items():
        report = await judge.run(
            language=language,
            source=source,
            function_name=question.function_name,
            tests=question.tests,
            comparison=question.comparison,
            time_limit_ms=question.time_limit_ms,
            memory_limit_mb=question.memory_limit_mb,
        )
        if report.passed != report.total:
            failing = [r.test_id for r in report.results if r.verdict != "accepted"]
            raise DomainError(
                f"The {language} reference solution fails tests {', '.join(failing[:10])}.",
                status=422,
                code="reference_solution_fails",
                title="Reference solution fails",
            )


def create_app(settings: Settings | None = None, clock: Clock = _utcnow) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    interviews = Interviews(rt, settings, clock)
    register_consumers(rt, interviews)

    @every(rt, settings.deadline_check_seconds, "deadlines")
    async def end_what_is_overdue() -> None:
        if overdue := await interviews.submit_overdue():
            log.info("sessions.time_limit_passed", count=overdue)
        if expired := await interviews.expire_stuck():
            log.warning("sessions.expired", count=expired)

    @rt.on_startup
    async def _prepare(runtime: ServiceRuntime) -> None:
        await interviews.view.ensure_indexes()
        bank = QuestionBank(runtime.db)
        await bank.ensure_indexes()
        written = await bank.seed(load_seed())
        log.info("bank.seeded", written=written)

    app = rt.create_app([router], title="interviews")
    app.state.interviews = interviews
    app.state.solution_checker = check_reference_solutions
    judge = Judge(
        JudgeSettings(
            max_concurrency=settings.run_concurrency,
            allow_unsandboxed=settings.judge_allow_unsandboxed,
            bwrap_path=settings.judge_bwrap_path,
        )
    )
    app.state.example_runner = ExampleRunner(judge, settings.run_concurrency, settings.run_queue)

    async def coding_available() -> bool:
        return settings.judge_allow_unsandboxed or await asyncio.to_thread(judge.sandbox_available)

    interviews.coding_available = coding_available
    rt.informational_checks["sandbox"] = coding_available
    rt.degraded_notes["sandbox"] = lambda: (
        "coding and mixed interviews are refused (503 coding_unavailable): "
        f"{judge.sandbox_unavailable_reason or 'no sandbox'}; install bubblewrap"
    )
    app.state.verifier = auth_verifier(settings)
    return app
