"""The AI runner's use cases: record the work an event asks for, prepare a session, score its
answers (judged in the sandbox, graded, bounded by evidence), re-score one, fail one, and read
transcripts and stats.

Consumers only record work (one idempotent write in the lease queue, `adapters.job_queue`)
and return, so a slow model never holds a transaction or a broker delivery open; the workers
(`app.worker`) claim the jobs and run them here. A job that keeps losing its worker ends
`SessionFailed` after `job_max_attempts` leases, never stuck. The session's deadline is not
the AI runner's: interviews owns the session and fails it when it was not prepared or scored
in time (a late result is then ignored there as late news)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts import (
    AnswersSubmitted,
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
from contracts.views import candidate_transcript
from prometheus_client import Counter, Histogram
from pydantic import TypeAdapter
from servicekit.eventstore import Repository
from servicekit.identity import Principal
from servicekit.logs import get_logger
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession, Document
from servicekit.problems import DomainError
from servicekit.unit_of_work import UnitOfWork

from ai_runner.app.ports import (
    Grader,
    JudgeSummary,
    LeaseQueue,
    ProviderFailed,
    TranscriptStore,
    Usage,
)
from ai_runner.domain.guard import bound_behavioral, bound_code
from ai_runner.domain.job import AiJob, JobAlreadyFinished, JobNotRescorable
from ai_runner.domain.sufficiency import insufficient_reason
from ai_runner.domain.transcript import encode
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
JOBS_FAILED = Counter(
    "ai_jobs_failed_total", "Sessions the AI runner failed.", ["stage"], registry=REGISTRY
)

Judge = Any  # codejudge.Judge: imported lazily so the service starts without it in tests


def _sentence(text: str) -> str:
    """`text` ended as a sentence: a provider's reason ("... Bad request") is followed by
    more words in the message a candidate reads."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


class Jobs:
    def __init__(
        self,
        uow: UnitOfWork,
        queue: LeaseQueue,
        settings: Settings,
        grader: Grader,
        judge: Judge,
        transcripts: TranscriptStore,
        clock: Callable[[], datetime] | None = None,
        reference: Grader | None = None,
    ) -> None:
        self.uow = uow
        self.queue = queue
        self.settings = settings
        self.grader = grader
        # when a model grades, the offline grader's reading of what the same answer shows
        # bounds it (guard.MODEL_MARGIN); the offline grader's own needs no second look
        self.reference = reference
        self.judge = judge
        self.transcripts = transcripts
        self.clock = clock or (lambda: datetime.now(UTC))

    @property
    def repo(self) -> Repository[AiJob]:
        return Repository(self.uow.store, AiJob)

    # -- consumers: record the work -----------------------------------------------------
    # Each records the work in one single-document write that is idempotent by itself, so no
    # inbox row and no transaction are needed (each would be another trip to the store); a
    # redelivery changes nothing.
    async def session_requested(self, event: SessionRequested, envelope: EventEnvelope) -> None:
        """A job to prepare, added only if it is not there."""
        await self.queue.add_to_prepare(
            event.session_id,
            {
                "user_id": event.user_id,
                "questions": [q.model_dump(mode="json") for q in event.questions],
            },
            envelope.correlation_id,
            envelope.traceparent,
        )

    async def answers_submitted(self, event: AnswersSubmitted, envelope: EventEnvelope) -> None:
        """The job moves to `scoring`, only from `ready` or `preparing`."""
        await self.queue.add_to_score(
            event.session_id,
            [a.model_dump(mode="json") for a in event.answers],
            envelope.correlation_id,
            envelope.traceparent,
        )

    async def session_failed(self, event: SessionFailed, envelope: EventEnvelope) -> None:
        """Interviews gave up on the session (its deadline: interviews owns it): drop the
        job if it still waits, so a backlog does not spend model calls on sessions that are
        over. Its own SessionFailed comes back here too and changes nothing (already failed)."""
        if await self.queue.abandon(event.session_id):
            log.info("job.abandoned", job_id=event.session_id, stage=event.stage)

    # -- running a claimed job ------------------------------------------------------------
    async def run_claimed(self, job: Document) -> None:
        """Run a job a worker has leased: prepare or score it, or fail it when its attempts
        ran out or the provider gave up."""
        stage = job["status"]
        started = time.perf_counter()
        outcome = "ok"
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
            await self.queue.retry_soon(job["_id"])
            raise
        finally:
            JOB_DURATION.labels(stage, outcome).observe(time.perf_counter() - started)

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
            await self.queue.finish(job_id, status, extra, session)
            return True

        return await self.uow.command(work)

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
                    review.model_copy(update={"tests": tuple(tests)}),
                    summary.score,
                    summary.verdicts,
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

    async def transcript(self, principal: Principal, session_id: str) -> dict[str, Any]:
        """The stored transcript of a scored session: the owner's copy cut down to what a
        candidate may see (contracts.views), an admin's whole; anyone else's is missing."""
        job = await self.queue.get(session_id, {"user_id": 1, "transcript_key": 1})
        if job is None or (job["user_id"] != principal.user_id and not principal.is_admin):
            raise DomainError("No such interview.", status=404, code="not_found", title="Not found")
        if not job.get("transcript_key"):
            raise DomainError(
                "The transcript exists once the interview has been scored.",
                status=404,
                code="transcript_not_ready",
                title="No transcript yet",
            )
        # one stored document for both formats, rendered from what the reader may see
        body = await self.transcripts.get(job["transcript_key"] + ".json")
        if body is None:
            raise DomainError(
                "The transcript could not be found in storage.",
                status=404,
                code="transcript_missing",
                title="Transcript missing",
            )
        document: dict[str, Any] = json.loads(body)
        if principal.is_admin:
            document.pop("user_id", None)
            return document
        return candidate_transcript(document)

    async def rescore(self, session_id: str, requested_by: str) -> None:
        """Score a scored session again (admin); the new result is a new SessionScored and
        the old transcript version stays where it is."""
        job = await self.queue.get(session_id, {"user_id": 1})
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
            await self.queue.add_to_rescore(session_id, requested_by, session)

        await self.uow.command(work)
        self.queue.announce(session_id, "scoring")

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
        by_status = await self.queue.usage_by_status()
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
