"""interviews composition root."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from codejudge import Judge, JudgeSettings
from fastapi import FastAPI
from servicekit.identity import auth_verifier
from servicekit.logs import get_logger
from servicekit.periodic import every
from servicekit.runtime import ServiceRuntime

from interviews.adapters.bank import QuestionBank, load_seed
from interviews.adapters.stores import MongoStores
from interviews.app.examples import ExampleRunner
from interviews.app.questions import QuestionAdmin
from interviews.app.sessions import Clock, Interviews
from interviews.entrypoints.consumers import register_consumers
from interviews.entrypoints.http import router
from interviews.settings import Settings

log = get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings | None = None, clock: Clock = _utcnow) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    interviews = Interviews(rt, MongoStores(rt), settings, clock)
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
    # a reference solution is checked in a sandbox of its own, one run at a time
    app.state.questions = QuestionAdmin(
        lambda: interviews.bank, lambda: Judge(JudgeSettings(max_concurrency=1))
    )
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
