"""The AI runner's job flow.

Consumers only record work (one idempotent write) and return, so a slow model never holds
a transaction or a broker delivery open. Workers claim jobs with a lease in Mongo: several
ai-runner processes share the work, a killed worker's job is picked up again when its lease
runs out, and a job that keeps losing its worker ends `SessionFailed` after
`job_max_attempts` leases, never stuck. The session's deadline is not the AI runner's:
interviews owns the session and fails it when it was not prepared or scored in time (a late
result is then ignored there as late news).

How a worker finds work: the consumer that recorded a job hands its id to this process's
workers once it is written, and a worker claims it by id (a compare-and-set update and a
find by `_id`).
A scan of the jobs collection (claim the job due first among the unleased and the
lease-expired) runs only every `job_poll_seconds` per process: it catches what no hint
announces (jobs recorded before a restart, a crashed worker's lease, jobs whose hint went to a
replica that is busy). So an idle runner no longer reads the collection twice
a second per worker to find it empty.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import (
    AnswersSubmitted,
    DomainEvent,
    EventEnvelope,
    SessionFailed,
    SessionReady,
    SessionRequested,
    SessionRescoreRequested,
    SessionScored,
)
from contracts.events import (
    AIUsage,
    Answer,
    AnswerResult,
    BehavioralQuestionSnapshot,
    CodingQuestionSnapshot,
    TestResult,
)
from prometheus_client import Counter, Gauge, Histogram
from pydantic import TypeAdapter
from pymongo import ASCENDING
from servicekit.eventstore import Repository
from servicekit.logs import bind_context, get_logger
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession, Document, set_origin
from servicekit.problems import DomainError
from servicekit.runtime import ServiceRuntime
from servicekit.tracing import consumer_span

from ai_runner.adapters.transcripts import TranscriptStore, encode
from ai_runner.app.ports import Grader, JudgeSummary, ProviderFailed, Usage
from ai_runner.domain.guard import bound_behavioral, bound_code
from ai_runner.domain.job import AiJob, JobAlreadyFinished, JobNotRescorable
from ai_runner.domain.sufficiency import insufficient_reason
from ai_runner.settings import Settings

log = get_logger(__name__)

QUESTIONS = TypeAdapter(list[CodingQuestionSnapshot | BehavioralQuestionSnapshot])
JOB_DURATION = Histogram(
    "ai_job_duration_seconds",
    "Time to prepare or score a session.",
    ["stage", "outcome"],
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
AI_CALLS = Counter(
    "ai_calls_total", "Grader calls, by model and outcome.", ["model", "outcome"], registry=REGISTRY
)
AI_TOKENS = Counter(
    "ai_tokens_total", "Model tokens, by direction.", ["model", "direction"], registry=REGISTRY
)
AI_COST = Counter("ai_cost_usd_total", "Model spend in US dollars.", ["model"], registry=REGISTRY)
JUDGE_VERDICTS = Counter(
    "judge_verdicts_total",
    "Judged test cases by verdict.",
    ["language", "verdict"],
    registry=REGISTRY,
)
JOBS_PENDING = Gauge(
    "ai_jobs_pending",
    "Jobs waiting to be prepared or scored (scale on it).",
    ["stage"],
    registry=REGISTRY,
)
JOBS_FAILED = Counter(
    "ai_jobs_failed_total", "Sessions the AI runner failed.", ["stage"], registry=REGISTRY
)

Judge = Any  # codejudge.Judge: imported lazily so the service starts without it in tests


ACTIVE = ["preparing", "scoring"]  # the statuses with work to do
CLAIM_PAGE = 32  # candidates read per claim and kind (unleased, lease run out)
PENDING_REFRESH_SECONDS = 5.0
# The order claims take jobs in (stored as `deadline_at`, the earliest first): a job to prepare
# counts as due two minutes after it was recorded (a candidate waits in the room), answers to
# score ten minutes after. An order only: nothing fails when it passes (interviews owns the
# session's deadline).
PREPARE_DUE = timedelta(seconds=120)
SCORING_DUE = timedelta(seconds=600)


def _sentence(text: str) -> str:
    """`text` ended as a sentence: a provider's reason ("... Bad request") is followed by
    more words in the message a candidate reads."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


class Jobs:
    def __init__(
        self,
        rt: ServiceRuntime,
        settings: Settings,
        grader: Grader,
        judge: Judge,
        transcripts: TranscriptStore,
        clock: Callable[[], datetime] | None = None,
        reference: Grader | None = None,
    ) -> None:
        self.rt = rt
        self.settings = settings
        self.grader = grader
        # when a model grades, the offline grader's reading of what the same answer shows
        # bounds it (guard.MODEL_MARGIN); the offline grader's own needs no second look
        self.reference = reference
        self.judge = judge
        self.transcripts = transcripts
        self.clock = clock or (lambda: datetime.now(UTC))
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._hints: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._next_scan = 0.0  # monotonic time of the next scan; 0: at once
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._running: set[str] = set()  # ids of the jobs this process's workers are on

    def hint(self, job_id: str, status: str) -> None:
        """A job was recorded (committed) with status `status` and no lease: claim it now."""
        self._hints.put_nowait((job_id, status))
        self._wake.set()

    @property
    def jobs(self) -> Any:
        return self.rt.db["jobs"]

    @property
    def repo(self) -> Repository[AiJob]:
        return Repository(self.rt.store, AiJob)

    async def ensure_indexes(self) -> None:
        await self.jobs.create_index([("status", ASCENDING), ("lease_until", ASCENDING)])
        await self.jobs.create_index([("status", ASCENDING), ("deadline_at", ASCENDING)])

    # -- consumers: record the work -----------------------------------------------------
    async def on_event(self, event: DomainEvent, envelope: EventEnvelope) -> None:
        """Record the work in one single-document write that is idempotent by itself, so no
        inbox row and no transaction are needed (each would be another trip to the store):
        SessionRequested inserts the job only if it is not there; AnswersSubmitted moves it
        to `scoring` only from `ready` or `preparing`. A redelivery changes nothing."""
        now = self.clock()
        if isinstance(event, SessionRequested):
            await self.jobs.update_one(
                {"_id": event.session_id},
                {
                    "$setOnInsert": {
                        "user_id": event.user_id,
                        "questions": [q.model_dump(mode="json") for q in event.questions],
                        "status": "preparing",
                        "answers": None,
                        "attempts": 0,
                        "lease_until": None,
                        "claimed_by": None,
                        "created_at": now,
                        "deadline_at": now + PREPARE_DUE,
                        "correlation_id": envelope.correlation_id,
                        "traceparent": envelope.traceparent,
                    }
                },
                upsert=True,
            )
            self.hint(event.session_id, "preparing")
        elif isinstance(event, AnswersSubmitted):
            change = {
                "$set": {
                    "status": "scoring",
                    "answers": [a.model_dump(mode="json") for a in event.answers],
                    "attempts": 0,
                    "lease_until": None,
                    "claimed_by": None,
                    "correlation_id": envelope.correlation_id,
                    "traceparent": envelope.traceparent,
                    "deadline_at": now + SCORING_DUE,
                }
            }
            # a compare-and-set per status that may take answers, `ready` (the usual case)
            # first; equality, not `$in`: the development server answers `_id` plus `$in` by
            # scanning every job
            for status in ("ready", "preparing"):
                moved = await self.jobs.update_one(
                    {"_id": event.session_id, "status": status}, change
                )
                if moved.matched_count:
                    self.hint(event.session_id, "scoring")
                    return
            existing = await self.jobs.find_one({"_id": event.session_id}, {"status": 1})
            if existing is None:
                # we have not seen its SessionRequested yet: let the broker redeliver
                raise LookupError(f"no job for session {event.session_id} yet")
            if existing["status"] in ("preparing", "ready"):
                # it moved between the two compare-and-sets: the redelivery tries again
                raise LookupError(f"job {event.session_id} changed meanwhile")
            # already scoring or finished: a redelivery, or late news

    # -- workers: do the work -------------------------------------------------------------
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

    async def stop(self) -> None:
        """Shutdown (a rollout, a drain, a scale-down): claim nothing more, give the running
        jobs JOB_DRAIN_SECONDS to finish, then stop them and hand their leases back, so
        another replica takes them at once instead of after the lease (up to a minute of
        the session's deadline). The attempt a stopped job was charged is given back."""
        self._stopping = True
        self._wake.set()
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
            released = await self.jobs.update_many(
                {
                    "_id": {"$in": unfinished},
                    "claimed_by": self.worker_id,
                    "status": {"$in": ACTIVE},
                },
                {"$set": {"lease_until": None, "claimed_by": None}, "$inc": {"attempts": -1}},
            )
        except Exception as exc:  # noqa: BLE001 - Mongo gone: the leases run out instead
            log.warning("jobs.lease_release_failed", error=repr(exc))
            return
        if released.modified_count:
            log.info("jobs.leases_released", jobs=released.modified_count)

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
                # until a hint, or the next scan
                wait = max(0.01, self._next_scan - time.monotonic())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def claim(self) -> Document | None:
        """Lease the claimable job due first (`deadline_at`), or None.

        Two indexed reads of a few fields (unleased jobs, jobs whose lease ran out), then a
        compare-and-set on the lease the candidate was seen with: if another worker took it
        in between, its lease changed and the update matches nothing, so try the next one.
        (One findAndModify with `$or` and a sort would do the same in one trip on MongoDB,
        but the development server answers it by scanning every job ever run: seconds per
        claim once thousands of interviews have finished, on every worker's every poll.)"""
        now = self.clock()
        fields = {"_id": 1, "status": 1, "lease_until": 1, "deadline_at": 1}
        candidates: list[Document] = []
        for lease in (None, {"$lt": now}):
            cursor = self.jobs.find({"status": {"$in": ACTIVE}, "lease_until": lease}, fields)
            candidates += [c async for c in cursor.sort("deadline_at", ASCENDING).limit(CLAIM_PAGE)]
        candidates.sort(key=lambda c: c["deadline_at"])
        for candidate in candidates:
            taken = await self.jobs.update_one(
                {
                    "_id": candidate["_id"],
                    "status": candidate["status"],
                    "lease_until": candidate["lease_until"],
                },
                {
                    "$set": {
                        "claimed_by": self.worker_id,
                        "lease_until": now + timedelta(seconds=self.settings.job_lease_seconds),
                    },
                    "$inc": {"attempts": 1},
                },
            )
            if taken.modified_count == 1:
                job: Document | None = await self.jobs.find_one({"_id": candidate["_id"]})
                return job
        return None

    async def refresh_pending(self) -> None:
        for stage in ("preparing", "scoring"):
            JOBS_PENDING.labels(stage).set(await self.jobs.count_documents({"status": stage}))

    async def claim_hinted(self) -> Document | None:
        """Lease a job announced by `hint`, by id, if nobody has it yet; None when no hint
        is left. The status in the filter is the one announced: equality, not `$in` (the
        development server answers `_id` plus `$in` by scanning every job). An update and a
        find by `_id` rather than one findAndModify, which secantusdb answers by scanning
        the collection when the document exists (~1 s at 20,000 jobs, measured)."""
        while not self._hints.empty():
            job_id, status = self._hints.get_nowait()
            taken = await self.jobs.update_one(
                {"_id": job_id, "status": status, "lease_until": None},
                {
                    "$set": {
                        "claimed_by": self.worker_id,
                        "lease_until": self.clock()
                        + timedelta(seconds=self.settings.job_lease_seconds),
                    },
                    "$inc": {"attempts": 1},
                },
            )
            if taken.modified_count == 1:
                job: Document | None = await self.jobs.find_one({"_id": job_id})
                return job
            # taken by a scan (here or on another replica) already: the next hint
        return None

    async def work_once(self) -> bool:
        """Claim and run one job: an announced one, else (when a scan is due) one found by
        scanning; False when there was nothing."""
        job = await self.claim_hinted()
        if job is None and time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self.settings.job_poll_seconds
            job = await self.claim()
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
            return await self._run_claimed(job)

    async def _run_claimed(self, job: Document) -> bool:
        stage = job["status"]
        started = time.perf_counter()
        outcome = "ok"
        self._running.add(job["_id"])
        try:
            if job["attempts"] > self.settings.job_max_attempts:
                outcome = "failed"
                await self.fail(
                    job,
                    "scoring" if stage == "scoring" else "preparing",
                    "We could not finish this interview after several attempts. "
                    "Your interview credit has been returned.",
                )
            elif stage == "preparing":
                await self.prepare(job)
            else:
                await self.score(job)
        except ProviderFailed as exc:
            outcome = "failed"
            AI_CALLS.labels(self.grader.model, "failed").inc()
            spent = getattr(exc, "usage", None)
            if isinstance(spent, Usage):  # tokens billed on the failed attempts still count
                self._record_usage(spent)
            await self.fail(
                job,
                "scoring" if stage == "scoring" else "preparing",
                f"{_sentence(exc.reason)} Your interview credit has been returned; please try "
                "again later.",
            )
        except Exception:
            outcome = "error"
            # leave the lease to expire: another attempt (maybe another worker) retries it
            await self.jobs.update_one(
                {"_id": job["_id"], "claimed_by": self.worker_id},
                {"$set": {"lease_until": self.clock() + timedelta(seconds=2)}},
            )
            raise
        finally:
            self._running.discard(job["_id"])
            JOB_DURATION.labels(stage, outcome).observe(time.perf_counter() - started)
        return True

    async def _finish(
        self,
        job_id: str,
        change: Callable[[AiJob], Any],
        status: str,
        extra: dict[str, Any],
        correlation_id: str | None,
    ) -> bool:
        """Append the job's event and mark the job in one transaction, if we still own it."""

        async def work(session: AsyncClientSession) -> bool:
            aggregate = await self.repo.get(job_id, session=session) or AiJob(job_id)
            try:
                if change(aggregate) is False:
                    return False
            except JobAlreadyFinished:
                return False
            await self.repo.save(aggregate, session, correlation_id=correlation_id)
            await self.jobs.update_one(
                {"_id": job_id},
                {
                    "$set": {
                        "status": status,
                        "lease_until": None,
                        "finished_at": self.clock(),
                        **extra,
                    }
                },
                session=session,
            )
            return True

        return await self.rt.command(work)

    async def prepare(self, job: Document) -> None:
        questions = QUESTIONS.validate_python(job["questions"])
        introduction, guidance, usage = await self.grader.introduce(questions)
        self._record_usage(usage)
        event = SessionReady(
            session_id=job["_id"],
            user_id=job["user_id"],
            introduction=introduction,
            guidance=tuple(guidance),
            ready_at=self.clock(),
        )
        await self._finish(
            job["_id"],
            lambda a: a.prepared(event),
            "ready",
            {"usage_prepare": usage.__dict__},
            job.get("correlation_id"),
        )

    async def judge_answer(
        self, question: CodingQuestionSnapshot, answer: Answer
    ) -> tuple[list[TestResult], JudgeSummary]:
        report = await self.judge.run(
            language=answer.language or "python",
            source=answer.response,
            function_name=question.function_name,
            tests=question.tests,
            comparison=question.comparison,
            time_limit_ms=question.time_limit_ms,
            memory_limit_mb=question.memory_limit_mb,
        )
        verdicts: dict[str, int] = {}
        for result in report.results:
            verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
            JUDGE_VERDICTS.labels(answer.language or "python", result.verdict).inc()
        summary = JudgeSummary(
            passed=report.passed,
            total=report.total,
            score=report.score,
            compile_error=report.compile_error,
            verdicts=verdicts,
        )
        return list(report.results), summary

    async def score(self, job: Document) -> None:
        questions = QUESTIONS.validate_python(job["questions"])
        answers = {a["question_id"]: Answer.model_validate(a) for a in job["answers"] or []}
        usage = Usage(model=self.grader.model)
        results: list[AnswerResult] = []
        for question in questions:
            answer = answers.get(question.question_id)
            coding = isinstance(question, CodingQuestionSnapshot)
            reason = (
                "This question was not answered."
                if answer is None
                else insufficient_reason(answer.response, coding=coding)
            )
            if reason is not None:
                # no grader is asked to score what says nothing: no made-up number
                results.append(
                    AnswerResult(
                        question_id=question.question_id,
                        score=0,
                        verdict="insufficient",
                        reason=reason,
                        improvements=(reason,),
                    )
                )
                continue
            assert answer is not None
            if isinstance(question, CodingQuestionSnapshot):
                tests, summary = await self.judge_answer(question, answer)
                review, spent = await self.grader.review_code(question, answer, summary)
                result = bound_code(
                    review.model_copy(update={"tests": tuple(tests)}), summary.score
                )
            else:
                graded, spent = await self.grader.grade_behavioral(question, answer.response)
                weights = {r.dimension: r.weight for r in question.rubric}
                reference = (
                    None
                    if self.reference is None
                    else (await self.reference.grade_behavioral(question, answer.response))[0]
                )
                result = bound_behavioral(graded, answer.response, weights, reference)
            usage.add(spent)
            results.append(result)
        self._record_usage(usage)
        overall = round(sum(r.score for r in results) / len(results)) if results else 0
        version = int(job.get("transcript_version") or 0) + 1
        key = f"transcripts/{job['user_id']}/{job['_id']}/v{version}"
        transcript = {
            "session_id": job["_id"],
            "user_id": job["user_id"],
            "overall_score": overall,
            "model": self.grader.model,
            "prompt_version": self.grader.prompt_version,
            "summary": _summary(overall, results),
            "entries": [
                {
                    "question": q.model_dump(mode="json"),
                    "answer": answers[q.question_id].model_dump(mode="json")
                    if q.question_id in answers
                    else None,
                    "result": r.model_dump(mode="json"),
                }
                for q, r in zip(questions, results, strict=True)
            ],
            "usage": usage.__dict__,
            "scored_at": self.clock().isoformat(),
        }
        as_json, as_markdown = encode(transcript)
        await self.transcripts.put(f"{key}.json", as_json, "application/json")
        await self.transcripts.put(f"{key}.md", as_markdown, "text/markdown; charset=utf-8")
        event = SessionScored(
            session_id=job["_id"],
            user_id=job["user_id"],
            overall_score=overall,
            results=tuple(results),
            summary=transcript["summary"],
            transcript_key=key,
            usage=AIUsage(
                model=usage.model,
                calls=usage.calls,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=usage.cost_usd,
            ),
            scored_at=self.clock(),
            insufficient_answers=sum(r.verdict == "insufficient" for r in results),
        )
        await self._finish(
            job["_id"],
            lambda a: a.scored(event),
            "scored",
            {
                "transcript_key": key,
                "transcript_version": version,
                "usage": usage.__dict__,
                "overall_score": overall,
                "model": self.grader.model,
                "prompt_version": self.grader.prompt_version,
            },
            job.get("correlation_id"),
        )

    async def rescore(self, session_id: str, requested_by: str) -> None:
        """Score a scored session again (admin); the new result is a new SessionScored and
        the old transcript version stays where it is."""
        job = await self.jobs.find_one({"_id": session_id})
        if job is None:
            raise DomainError("No such interview.", status=404, code="not_found", title="Not found")
        now = self.clock()
        event = SessionRescoreRequested(
            session_id=session_id,
            user_id=job["user_id"],
            requested_by=requested_by,
            requested_at=now,
        )

        async def work(session: AsyncClientSession) -> None:
            aggregate = await self.repo.get(session_id, session=session) or AiJob(session_id)
            try:
                aggregate.rescore(event)
            except JobNotRescorable as exc:
                raise DomainError(
                    "Only a scored interview can be scored again.",
                    status=409,
                    code="not_rescorable",
                    title="Cannot re-score",
                ) from exc
            await self.repo.save(aggregate, session)
            await self.jobs.update_one(
                {"_id": session_id},
                {
                    "$set": {
                        "status": "scoring",
                        "attempts": 0,
                        "lease_until": None,
                        "claimed_by": None,
                        "rescore_requested_by": requested_by,
                        "deadline_at": now + SCORING_DUE,
                    }
                },
                session=session,
            )

        await self.rt.command(work)
        self.hint(session_id, "scoring")

    async def fail(self, job: Document, stage: str, reason: str) -> None:
        event = SessionFailed(
            session_id=job["_id"],
            user_id=job["user_id"],
            reason=reason,
            stage=stage,
            failed_at=self.clock(),
        )
        if await self._finish(
            job["_id"],
            lambda a: a.failed(event),
            "failed",
            {"failure_reason": reason},
            job.get("correlation_id"),
        ):
            JOBS_FAILED.labels(stage).inc()
            log.warning("job.failed", session_id=job["_id"], stage=stage, reason=reason)

    def _record_usage(self, usage: Usage) -> None:
        AI_CALLS.labels(usage.model, "ok").inc(usage.calls)
        AI_TOKENS.labels(usage.model, "input").inc(usage.input_tokens)
        AI_TOKENS.labels(usage.model, "output").inc(usage.output_tokens)
        AI_COST.labels(usage.model).inc(usage.cost_usd)

    async def stats(self) -> dict[str, Any]:
        pipeline = [
            {
                "$group": {
                    "_id": "$status",
                    "n": {"$sum": 1},
                    "calls": {"$sum": "$usage.calls"},
                    "input_tokens": {"$sum": "$usage.input_tokens"},
                    "output_tokens": {"$sum": "$usage.output_tokens"},
                    "cost_usd": {"$sum": "$usage.cost_usd"},
                }
            }
        ]
        by_status = {d["_id"]: d async for d in await self.jobs.aggregate(pipeline)}
        total = {
            k: sum(d.get(k) or 0 for d in by_status.values())
            for k in ("calls", "input_tokens", "output_tokens", "cost_usd")
        }
        return {
            "jobs": {k: v["n"] for k, v in by_status.items()},
            "ai_calls": total["calls"],
            "ai_input_tokens": total["input_tokens"],
            "ai_output_tokens": total["output_tokens"],
            "ai_cost_usd": round(total["cost_usd"], 6),
            "ai_failures": by_status.get("failed", {}).get("n", 0),
        }


def _summary(overall: int, results: list[AnswerResult]) -> str:
    scored = [r for r in results if r.verdict == "scored"]
    insufficient = len(results) - len(scored)
    if not scored:
        return (
            f"None of the {len(results)} answers said enough to be scored (each counts as 0); "
            "see each answer for why."
        )
    best = max(scored, key=lambda r: r.score)
    worst = min(scored, key=lambda r: r.score)
    note = (
        f" {insufficient} of {len(results)} answers did not say enough to be scored and count as 0."
        if insufficient
        else ""
    )
    band = (
        "strong"
        if overall >= 75
        else "solid"
        if overall >= 55
        else "developing"
        if overall >= 35
        else "early"
    )
    return (
        f"Overall {overall}/100: a {band} interview. Your strongest answer scored "
        f"{best.score}; the one to work on first scored {worst.score}.{note}"
    )
