"""Interview use cases: start (quota + questions + SessionRequested in one transaction),
submit answers, read sessions, and apply what the AI runner and billing report."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from contracts import (
    EventEnvelope,
    PlanDowngraded,
    PlanUpgraded,
    SessionFailed,
    SessionReady,
    SessionRequested,
    SessionScored,
)
from contracts.calendar import iso_week, week_resets_at
from contracts.events import Answer
from prometheus_client import Counter
from servicekit.eventstore import Repository
from servicekit.identity import Principal
from servicekit.logs import get_logger
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession
from servicekit.problems import DomainError
from servicekit.unit_of_work import UnitOfWork

from interviews.app.ports import (
    QuestionPicker,
    QuestionStore,
    SessionsReadModel,
    StaleDraft,
    Stores,
)
from interviews.domain.progress import progress_of
from interviews.domain.session import IllegalTransition, InterviewSession
from interviews.settings import Settings

log = get_logger(__name__)

QUOTA_DENIED = Counter(
    "quota_denials_total",
    "POST /interviews refused by the weekly quota.",
    ["plan"],
    registry=REGISTRY,
)
QUOTA_LAST_ONE = Counter(
    "quota_last_one_total", "Sessions that left a user one interview.", ["plan"], registry=REGISTRY
)
SESSIONS_STARTED = Counter(
    "interview_sessions_started_total", "Sessions created.", ["type"], registry=REGISTRY
)
SESSIONS_FINISHED = Counter(
    "interview_sessions_finished_total", "Sessions ended.", ["status"], registry=REGISTRY
)

Clock = Callable[[], datetime]


async def _always() -> bool:
    return True


class QuotaExceeded(DomainError):
    status = 429
    code = "quota_exceeded"
    title = "Weekly interview limit reached"


class SessionNotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class DraftConflict(DomainError):
    status = 412
    code = "stale_draft"
    title = "The draft has changed"


class NotEnoughQuestions(DomainError):
    status = 422
    code = "not_enough_questions"
    title = "Not enough matching questions"


class Interviews:
    def __init__(self, uow: UnitOfWork, stores: Stores, settings: Settings, clock: Clock) -> None:
        self.uow = uow
        self.stores = stores
        self.settings = settings
        self.clock = clock
        self.coding_available: Callable[[], Awaitable[bool]] = _always
        self.catalog = stores.catalog

    @property
    def view(self) -> SessionsReadModel:
        return self.stores.sessions()

    @property
    def bank(self) -> QuestionStore:
        return self.stores.bank()

    @property
    def repo(self) -> Repository[InterviewSession]:
        return Repository(self.uow.store, InterviewSession)

    def weekly_limit(self, plan: str) -> int:
        return (
            self.settings.premium_weekly_limit
            if plan == "premium"
            else self.settings.free_weekly_limit
        )

    async def _save(
        self,
        aggregate: InterviewSession,
        session: AsyncClientSession,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        read_back: bool = False,
    ) -> dict[str, Any] | None:
        """Append the aggregate's new events and fold them into the read model; with
        `read_back`, the view as it now is (None if there was nothing to append)."""
        envelopes = await self.repo.save(
            aggregate, session, correlation_id=correlation_id, causation_id=causation_id
        )
        return await self.view.apply_all(
            envelopes, session, aggregate.time_limit_minutes, read_back=read_back
        )

    # -- starting --------------------------------------------------------------------------
    def _pick(
        self,
        catalog: QuestionPicker,
        recent: set[str],
        session_id: str,
        kind: str,
        count: int,
        difficulty: str | None,
        tags: list[str] | None,
    ) -> list[Any]:
        if count == 0:
            return []
        candidates = catalog.candidates(kind, difficulty, tags)
        if len(candidates) < count:
            raise NotEnoughQuestions(
                f"Only {len(candidates)} {kind} questions match these filters; {count} needed."
            )
        rng = random.Random(session_id)
        fresh = [c for c in candidates if c not in recent]
        seen = [c for c in candidates if c in recent]
        rng.shuffle(fresh)
        rng.shuffle(seen)
        return [catalog.question(c).snapshot() for c in (fresh + seen)[:count]]

    async def start(
        self,
        principal: Principal,
        kind: Literal["coding", "behavioral", "mixed"],
        difficulty: str | None,
        tags: list[str] | None,
        count: int | None,
        correlation_id: str | None,
        time_limit_minutes: int | None = None,
    ) -> dict[str, Any]:
        session_id = str(uuid.uuid4())
        if kind != "behavioral" and not await self.coding_available():
            # refused before any quota is taken: every coding answer would fail to be judged
            raise DomainError(
                "Coding interviews are unavailable on this server right now: the code sandbox "
                "is not installed. Behavioural interviews work; try coding again later.",
                status=503,
                code="coding_unavailable",
                title="Coding interviews unavailable",
                headers={"Retry-After": "300"},
            )
        if kind == "coding":
            counts = {"coding": count or 3, "behavioral": 0}
        elif kind == "behavioral":
            counts = {"coding": 0, "behavioral": count or 4}
        else:
            total = count or 4
            counts = {"coding": math.ceil(total / 2), "behavioral": total // 2}
        questions = []
        # the user's recent questions, read once for every kind picked
        recent = await self.view.recent_question_ids(principal.user_id)
        catalog = await self.catalog.fresh()
        for question_kind, n in counts.items():
            questions += self._pick(catalog, recent, session_id, question_kind, n, difficulty, tags)

        async def work(session: AsyncClientSession) -> tuple[int, int, str, dict[str, Any]]:
            now = self.clock()
            week = iso_week(now)
            plan = await self.stores.plans().plan_of(principal.user_id, session=session)
            limit = self.weekly_limit(plan)
            used = await self.stores.quota().take(principal.user_id, week, limit, now, session)
            if used is None:
                QUOTA_DENIED.labels(plan).inc()
                resets_at = week_resets_at(now)
                retry = max(1, math.ceil((resets_at - now).total_seconds()))
                raise QuotaExceeded(
                    f"You have used all {limit} interviews of your {plan} plan this week; "
                    f"the limit resets at {resets_at.isoformat()}.",
                    headers={"Retry-After": str(retry)},
                    weekly_limit=limit,
                    resets_at=resets_at.isoformat(),
                )
            aggregate = InterviewSession.request(
                SessionRequested(
                    session_id=session_id,
                    user_id=principal.user_id,
                    session_type=kind,
                    difficulty=difficulty,
                    questions=tuple(questions),
                    quota_week=week,
                    requested_at=now,
                    time_limit_minutes=time_limit_minutes,
                    plan=plan,
                    quota_used=used,
                    weekly_limit=limit,
                ),
                now,
            )
            doc = await self._save(
                aggregate, session, correlation_id=correlation_id, read_back=True
            )
            assert doc is not None
            return used, limit, plan, doc

        used, limit, plan, doc = await self.uow.command(work)
        SESSIONS_STARTED.labels(kind).inc()
        remaining = limit - used
        if remaining == 1:
            QUOTA_LAST_ONE.labels(plan).inc()
            log.info("quota.last_one", user_id=principal.user_id, plan=plan)
        return doc | {"quota_remaining": remaining}

    # -- answering -------------------------------------------------------------------------
    async def submit(
        self,
        principal: Principal,
        session_id: str,
        answers: list[Answer],
        correlation_id: str | None,
    ) -> dict[str, Any]:

        async def work(session: AsyncClientSession) -> dict[str, Any] | None:
            aggregate = await self.repo.get(session_id, session=session)
            # the stream says whose session it is: someone else's is as missing as a missing
            # one (an admin too may not answer for the candidate)
            if aggregate is None or aggregate.user_id != principal.user_id:
                raise SessionNotFound("No such interview.")
            if aggregate.submit(answers, self.clock()):
                return await self._save(
                    aggregate, session, correlation_id=correlation_id, read_back=True
                )
            return None

        doc = await self.uow.command(work)
        if doc is None:  # the same answers again: nothing appended, the view as it is
            doc = await self.view.get(session_id)
        assert doc is not None
        return doc

    # -- drafts and example runs -----------------------------------------------------------
    async def _own_session(self, principal: Principal, session_id: str) -> InterviewSession:
        """The caller's session, folded from its stream (the stream says whose it is, so
        the read model is not read as well); anyone else's is as missing as a missing one."""
        aggregate = await self.repo.get(session_id)
        if aggregate is None or aggregate.user_id != principal.user_id:
            raise SessionNotFound("No such interview.")
        return aggregate

    async def save_draft(
        self,
        principal: Principal,
        session_id: str,
        answers: list[Answer],
        expected_version: int | None,
    ) -> dict[str, Any]:
        """Save work in progress over the version the writer read (None: the first draft)."""
        aggregate = await self._own_session(principal, session_id)
        aggregate.check_draft(answers)
        try:
            return await self.stores.drafts().save(
                session_id,
                principal.user_id,
                [a.model_dump(mode="json") for a in answers],
                expected_version,
                self.clock(),
            )
        except StaleDraft as exc:
            raise DraftConflict(
                f"The draft was saved elsewhere since (now version {exc.current}); load it, "
                "merge, and save with If-Match set to that version.",
                current_version=exc.current,
                status=428 if expected_version is None else 412,
                code="draft_version_required" if expected_version is None else "stale_draft",
            ) from None

    async def draft_of(self, session_id: str) -> dict[str, Any] | None:
        return await self.stores.drafts().get(session_id)

    async def coding_question(self, principal: Principal, session_id: str, question_id: str) -> Any:
        """The coding question of a `ready` session of the caller's, for an example run."""
        aggregate = await self._own_session(principal, session_id)
        aggregate.require_answerable()
        question = next((q for q in aggregate.questions if q.question_id == question_id), None)
        if question is None or question.kind != "coding":
            raise DomainError(
                "question_id: not a coding question of this session.",
                status=422,
                code="validation_error",
                title="Validation failed",
                errors=[
                    {
                        "loc": ["body", "question_id"],
                        "msg": "not a coding question of this session",
                        "type": "unknown_question",
                    }
                ],
            )
        return question

    async def submit_overdue(self) -> int:
        """Timed interviews whose deadline passed: the saved draft is submitted (once: the
        append is optimistic, so two replicas cannot both do it); nothing saved ends the
        session failed with the credit given back."""
        now = self.clock()
        done = 0
        for sid in await self.view.past_time_limit(now):

            async def work(session: AsyncClientSession, sid: str = sid) -> None:
                aggregate = await self.repo.get(sid, session=session)
                if aggregate is None or not aggregate.overdue(now):
                    return
                draft = await self.stores.drafts().get(sid, session=session)
                saved = [Answer.model_validate(a) for a in (draft or {}).get("answers", [])]
                answers = aggregate.answers_from_draft(saved)
                if answers:
                    aggregate.submit(answers, now, automatic=True)
                    await self._save(aggregate, session)
                    return
                await self._fail_at_deadline(
                    session,
                    sid,
                    "The time limit passed before any answer was saved. Your interview "
                    "credit has been returned.",
                    now,
                )

            await self.uow.command(work)
            done += 1
        return done

    # -- reading ---------------------------------------------------------------------------
    async def get(
        self, principal: Principal, session_id: str, owner_only: bool = False
    ) -> dict[str, Any]:
        doc = await self.view.get(session_id)
        # someone else's session and a missing one are indistinguishable
        allowed = doc is not None and (
            doc["user_id"] == principal.user_id or (principal.is_admin and not owner_only)
        )
        if not allowed:
            raise SessionNotFound("No such interview.")
        assert doc is not None
        return doc

    async def list(
        self, principal: Principal, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        return await self.view.list_for(principal.user_id, limit, offset)

    async def stats(self) -> dict[str, Any]:
        return await self.view.stats()

    async def progress(self, user_id: str) -> dict[str, Any]:
        return progress_of(await self.view.completed_of(user_id))

    async def quota(self, user_id: str) -> dict[str, Any]:
        now = self.clock()
        plan = await self.stores.plans().plan_of(user_id)
        limit = self.weekly_limit(plan)
        used = min(await self.stores.quota().used(user_id, iso_week(now)), limit)
        remaining = max(limit - used, 0)
        quota: dict[str, Any] = {
            "weekly_limit": limit,
            "used": used,
            "remaining": remaining,
            "resets_at": week_resets_at(now).isoformat(),
            "plan": plan,
        }
        if remaining == 1:
            quota["warning"] = "last_interview_this_week"
        return quota

    # -- what other services report -----------------------------------------------------
    async def _apply(
        self,
        session_id: str,
        what: str,
        session: AsyncClientSession,
        change: Callable[[InterviewSession], bool | None],
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> bool:
        """Change the session (`what` names the news, for the logs), save it and give the
        credit back when the change says so; False when there was nothing to change."""
        aggregate = await self.repo.get(session_id, session=session)
        if aggregate is None:
            log.warning("session.unknown", session_id=session_id, event_type=what)
            return False
        try:
            refund = change(aggregate)
        except IllegalTransition as exc:
            # late or duplicated news (e.g. scored after the deadline failed it): nothing to do
            log.info("session.transition_ignored", session_id=session_id, reason=str(exc))
            return False
        await self._save(
            aggregate, session, correlation_id=correlation_id, causation_id=causation_id
        )
        if refund:
            await self.stores.quota().give_back(aggregate.user_id, aggregate.quota_week, session)
        if aggregate.status in ("completed", "failed"):
            SESSIONS_FINISHED.labels(aggregate.status).inc()
        return True

    async def _apply_reported(
        self,
        session_id: str,
        envelope: EventEnvelope,
        session: AsyncClientSession,
        change: Callable[[InterviewSession], bool | None],
    ) -> None:
        """What the AI runner reported, applied under the reporting event's ids."""
        await self._apply(
            session_id,
            envelope.event_type,
            session,
            change,
            correlation_id=envelope.correlation_id,
            causation_id=str(envelope.event_id),
        )

    async def session_ready(
        self, event: SessionReady, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        now = self.clock()
        await self._apply_reported(
            event.session_id, envelope, session, lambda a: a.mark_ready(event, now)
        )

    async def session_scored(
        self, event: SessionScored, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        now = self.clock()
        await self._apply_reported(
            event.session_id,
            envelope,
            session,
            lambda a: a.rescored(event) if a.status == "completed" else a.complete(event, now),
        )

    async def session_failed(
        self, event: SessionFailed, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        now = self.clock()
        await self._apply_reported(
            event.session_id, envelope, session, lambda a: a.fail(event, now)
        )

    async def plan_changed(
        self, event: PlanUpgraded | PlanDowngraded, envelope: EventEnvelope
    ) -> None:
        """Billing's plan changes: one idempotent write (PlanProjection.record), outside any
        transaction and without an inbox row."""
        await self.stores.plans().record(event)

    async def _fail_at_deadline(
        self, session: AsyncClientSession, sid: str, reason: str, now: datetime
    ) -> bool:
        """Fail a session on interviews' own clock (a timed interview with nothing saved, or
        one the AI runner did not prepare or score in time): interviews owns the session and
        its deadline, so the failure is decided here and the credit given back once. False
        when the session had moved on meanwhile (nothing to fail)."""

        def fail(aggregate: InterviewSession) -> bool:
            return aggregate.fail(
                SessionFailed(
                    session_id=sid,
                    user_id=aggregate.user_id,
                    reason=reason,
                    stage="deadline",
                    failed_at=now,
                ),
                now,
            )

        return await self._apply(sid, "deadline", session, fail)

    async def expire_stuck(self) -> int:
        """Fail sessions stuck past their deadline (not prepared, or not scored, in time),
        giving the quota back. The only session deadline there is: the AI runner keeps job
        leases and no clock of its own. Runs periodically; safe on every replica (appends
        conflict, not double)."""
        now = self.clock()
        cutoff = {
            "queued": self.settings.queued_deadline_seconds,
            "scoring": self.settings.scoring_deadline_seconds,
        }
        reasons = {
            "queued": "We could not prepare this interview in time. Your interview credit "
            "has been returned.",
            "scoring": "Scoring took too long and was stopped. Your interview credit has "
            "been returned; please try again.",
        }
        failed = 0
        for status, seconds in cutoff.items():
            for stuck in await self.view.unchanged_since(status, now - timedelta(seconds=seconds)):

                async def work(
                    session: AsyncClientSession, sid: str = stuck, why: str = reasons[status]
                ) -> bool:
                    return await self._fail_at_deadline(session, sid, why, now)

                await self.uow.command(work)
                failed += 1
        return failed
