"""ai-runner composition root."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from servicekit.identity import auth_verifier
from servicekit.logs import get_logger
from servicekit.runtime import ServiceRuntime

from ai_runner.adapters.job_queue import JobQueue
from ai_runner.adapters.offline_grader import OfflineGrader
from ai_runner.adapters.transcripts import LocalTranscripts, S3Transcripts
from ai_runner.app.jobs import Jobs
from ai_runner.app.ports import Grader, TranscriptStore
from ai_runner.app.worker import Workers
from ai_runner.entrypoints.consumers import register_consumers
from ai_runner.entrypoints.http import router
from ai_runner.settings import Settings


def make_grader(settings: Settings) -> Grader:
    """A model when a key is set, else the offline grader."""
    if settings.ai_api_key is not None:
        from ai_runner.adapters.gemini import GeminiGrader

        return GeminiGrader(  # type: ignore[no-any-return]
            api_key=settings.ai_api_key.get_secret_value(),
            model=settings.ai_model,
            base_url=settings.ai_base_url,
            timeout_seconds=settings.ai_timeout_seconds,
            max_attempts=settings.ai_max_attempts,
            price_input_per_m=settings.ai_price_input_per_million,
            price_output_per_m=settings.ai_price_output_per_million,
        )
    return OfflineGrader()


def make_judge(settings: Settings) -> Any:
    from codejudge import Judge, JudgeSettings

    return Judge(
        JudgeSettings(
            max_concurrency=settings.judge_concurrency,
            allow_unsandboxed=settings.judge_allow_unsandboxed,
        )
    )


def make_transcripts(settings: Settings) -> TranscriptStore:
    if settings.s3_endpoint:
        return S3Transcripts(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_key.get_secret_value() if settings.s3_key else None,
            settings.s3_secret.get_secret_value() if settings.s3_secret else None,
            settings.s3_region,
        )
    return LocalTranscripts(settings.data_dir / "transcripts")


log = get_logger(__name__)


def create_app(
    settings: Settings | None = None,
    grader: Grader | None = None,
    judge: Any = None,
    transcripts: TranscriptStore | None = None,
) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    judge = judge or make_judge(settings)
    grader = grader or make_grader(settings)
    # a model's behavioural grading is bounded by the offline grader's reading of what the
    # text shows (relevance is left to the model)
    offline = grader if isinstance(grader, OfflineGrader) else OfflineGrader(judge_relevance=False)
    queue = JobQueue(lambda: rt.db, settings.job_lease_seconds, lambda: datetime.now(UTC))
    jobs = Jobs(
        rt,
        queue,
        settings,
        grader,
        judge,
        transcripts or make_transcripts(settings),
        reference=None if offline is grader else offline,
    )
    workers = Workers(jobs, queue, settings)
    register_consumers(rt, jobs)

    @rt.on_startup
    async def _start(_: ServiceRuntime) -> None:
        # the start-up check of the sandbox: a real bubblewrap run that must come back with
        # its own user/pid/net/ipc/uts/mount namespaces and the seccomp filter on
        # (codejudge.sandbox); without it coding answers are refused, never run unconfined
        if await asyncio.to_thread(judge.sandbox_available):
            log.info("sandbox.isolated", seccomp=judge.settings.seccomp_filter)
        else:
            log.error("sandbox.unavailable", reason=judge.sandbox_unavailable_reason)
        await offline.warm_up()  # the embedding model, loaded in a thread before any job
        await queue.ensure_indexes()
        workers.start()

    @rt.on_shutdown
    async def _stop(_: ServiceRuntime) -> None:
        await workers.stop()

    async def sandbox_ready() -> bool:
        # the judge refuses to run unsandboxed unless development allows it
        return bool(settings.judge_allow_unsandboxed or judge.sandbox_available())

    async def storage_ready() -> bool:
        return await jobs.transcripts.ready()

    # without the sandbox the AI runner still prepares and scores behavioural interviews;
    # interviews refuses coding ones up front (see its POST /interviews), so it is reported,
    # not a reason to take the runner out of service
    rt.informational_checks["sandbox"] = sandbox_ready
    rt.degraded_notes["sandbox"] = lambda: (
        f"coding answers cannot be judged ({judge.sandbox_unavailable_reason or 'no sandbox'}); "
        "install bubblewrap"
    )
    rt.dependency_checks["transcripts"] = storage_ready
    app = rt.create_app([router], title="ai-runner")
    app.state.jobs = jobs
    app.state.job_queue = queue
    app.state.workers = workers
    app.state.verifier = auth_verifier(settings)
    return app
