"""The AI runner's worker loop: `worker_concurrency` workers claim jobs from the lease queue
and run them (`Jobs.run_claimed`), one more task keeps the backlog gauge fresh, and a
shutdown hands the running jobs' leases back.

A worker claims an announced job at once; the scan of the whole queue runs only every
`job_poll_seconds` per process, so an idle runner does not read the collection twice a second
per worker to find it empty."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Gauge
from servicekit.logs import bind_context, get_logger
from servicekit.metrics import REGISTRY
from servicekit.mongo import set_origin
from servicekit.tracing import consumer_span

from ai_runner.app.jobs import Jobs
from ai_runner.app.ports import LeaseQueue
from ai_runner.settings import Settings

log = get_logger(__name__)

JOBS_PENDING = Gauge(
    "ai_jobs_pending",
    "Jobs waiting to be prepared or scored (scale on it).",
    ["stage"],
    registry=REGISTRY,
)
PENDING_REFRESH_SECONDS = 5.0


class Workers:
    def __init__(self, jobs: Jobs, queue: LeaseQueue, settings: Settings) -> None:
        self.jobs = jobs
        self.queue = queue
        self.settings = settings
        self._next_scan = 0.0  # monotonic time of the next scan; 0: at once
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._running: set[str] = set()  # ids of the jobs this process's workers are on

    def start(self) -> None:
        self._stopping = False
        for n in range(self.settings.worker_concurrency):
            self._tasks.append(asyncio.create_task(self._work_forever(), name=f"ai-worker-{n}"))
        self._tasks.append(asyncio.create_task(self._count_forever(), name="ai-jobs-pending"))

    async def _count_forever(self) -> None:
        """Keep `ai_jobs_pending` (what the AI runner is scaled on) fresh every 5 s, also
        while every worker is busy with a long job."""
        set_origin("jobs-housekeeping")
        while True:
            try:
                await self.refresh_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next count will do
                log.warning("jobs.count_failed", error=repr(exc))
            await asyncio.sleep(PENDING_REFRESH_SECONDS)

    async def refresh_pending(self) -> None:
        for stage in ("preparing", "scoring"):
            JOBS_PENDING.labels(stage).set(await self.queue.count(stage))

    async def stop(self) -> None:
        """Shutdown (a rollout, a drain, a scale-down): claim nothing more, give the running
        jobs JOB_DRAIN_SECONDS to finish, then stop them and hand their leases back, so
        another replica takes them at once instead of after the lease (up to a minute of
        the candidate's wait). The attempt a stopped job was charged is given back."""
        self._stopping = True
        self.queue.wake.set()
        workers = [t for t in self._tasks if t.get_name().startswith("ai-worker-")]
        if workers and self.settings.job_drain_seconds > 0:
            await asyncio.wait(workers, timeout=self.settings.job_drain_seconds)
        unfinished = sorted(self._running)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks.clear()
        if not unfinished:
            return
        try:
            released = await self.queue.release(unfinished)
        except Exception as exc:  # noqa: BLE001 - Mongo gone: the leases run out instead
            log.warning("jobs.lease_release_failed", error=repr(exc))
            return
        if released:
            log.info("jobs.leases_released", jobs=released)

    async def _work_forever(self) -> None:
        set_origin("jobs")
        while not self._stopping:
            try:
                worked = await self.work_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("jobs.worker_error", error=repr(exc))
                worked = False
            if not worked:
                # until an announcement, or the next scan
                wait = max(0.01, self._next_scan - time.monotonic())
                try:
                    await asyncio.wait_for(self.queue.wake.wait(), timeout=wait)
                except TimeoutError:
                    pass
                self.queue.wake.clear()

    async def work_once(self) -> bool:
        """Claim and run one job: an announced one, else (when a scan is due) one found by
        scanning; False when there was nothing."""
        job = await self.queue.claim_announced()
        if job is None and time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self.settings.job_poll_seconds
            job = await self.queue.claim()
        if job is None:
            return False
        bind_context(session_id=job["_id"], correlation_id=job.get("correlation_id"))
        # continue the trace of the event that asked for this work, so one interview is one
        # trace from POST /interviews through the bus to the AI runner and back
        with consumer_span(
            f"ai-job {job['status']}",
            {"traceparent": job.get("traceparent")},
            **{"session.id": job["_id"]},
        ):
            self._running.add(job["_id"])
            try:
                await self.jobs.run_claimed(job)
            finally:
                self._running.discard(job["_id"])
        return True
