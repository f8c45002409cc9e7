"""The InterviewSession aggregate: status only moves forward
(queued -> ready -> scoring -> completed | failed), and every rule about answers lives here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from contracts import (
    AnswersSubmitted,
    DomainEvent,
    SessionFailed,
    SessionReady,
    SessionRequested,
    SessionScored,
    SessionStatusChanged,
)
from contracts.events import Answer, BehavioralQuestionSnapshot, CodingQuestionSnapshot
from servicekit.domain import Aggregate, DomainError

Status = Literal["queued", "ready", "scoring", "completed", "failed"]
FINAL: frozenset[str] = frozenset({"completed", "failed"})
LANGUAGES = frozenset({"python", "javascript"})
MAX_ANSWER_CHARS = 20_000


class NotReady(DomainError):
    status = 409
    code = "not_ready"
    title = "Session not ready"


class AlreadySubmitted(DomainError):
    status = 409
    code = "already_submitted"
    title = "Answers already submitted"


class InvalidAnswers(DomainError):
    status = 422
    code = "validation_error"
    title = "Validation failed"


class IllegalTransition(Exception):
    """An event that cannot happen in the session's current status (late or duplicated)."""


class InterviewSession(Aggregate):
    aggregate_type = "interview-session"
    # facts learned from the AI runner's events: kept in our stream, not published again
    local_events = frozenset({"SessionReady", "SessionScored", "SessionFailed"})

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status: Status = "queued"
        self.user_id = ""
        self.quota_week = ""
        self.questions: tuple[CodingQuestionSnapshot | BehavioralQuestionSnapshot, ...] = ()
        self.answers: tuple[Answer, ...] = ()
        self.quota_refunded = False
        self.time_limit_minutes: int | None = None
        self.deadline_at: datetime | None = None

    # -- commands ------------------------------------------------------------------------
    @classmethod
    def request(cls, event: SessionRequested, now: datetime) -> InterviewSession:
        session = cls(event.session_id)
        session.record(event)
        session._status_changed("queued", now)
        return session

    def mark_ready(self, event: SessionReady, now: datetime) -> None:
        self._require({"queued"}, "SessionReady")
        self.record(event)
        self._status_changed("ready", now)

    def submit(self, answers: list[Answer], now: datetime, automatic: bool = False) -> bool:
        """Record the answers; False when this exact submission was already accepted (a
        client retry), so the caller can answer it idempotently."""
        if self.status == "scoring" and tuple(answers) == self.answers:
            return False
        self.require_answerable()
        self._validate(answers)
        self.record(
            AnswersSubmitted(
                session_id=self.id,
                user_id=self.user_id,
                answers=tuple(answers),
                submitted_at=now,
                automatic=automatic,
            )
        )
        self._status_changed("scoring", now)
        return True

    def require_answerable(self) -> None:
        """Only a `ready` session takes answers, drafts and example runs."""
        if self.status == "queued":
            raise NotReady("The questions are still being prepared; try again in a moment.")
        if self.status != "ready":
            raise AlreadySubmitted("Answers for this session were already submitted.")

    def check_draft(self, answers: list[Answer]) -> None:
        """A draft follows the rules of answers, but may be empty or partly blank, and a
        coding answer may not have chosen its language yet."""
        self.require_answerable()
        self._validate(answers, draft=True)

    def answers_from_draft(self, answers: list[Answer]) -> list[Answer]:
        """What of a saved draft can be submitted when the time is up: answers to this
        session's questions that say something (coding ones in a language the judge runs)."""
        by_id = {q.question_id: q for q in self.questions}
        kept: dict[str, Answer] = {}
        for answer in answers:
            question = by_id.get(answer.question_id)
            if question is None or not answer.response.strip() or answer.question_id in kept:
                continue
            if question.kind == "coding" and answer.language not in LANGUAGES:
                continue
            if question.kind != "coding" and answer.language is not None:
                answer = answer.model_copy(update={"language": None})
            kept[answer.question_id] = answer
        return list(kept.values())

    def overdue(self, now: datetime) -> bool:
        return self.status == "ready" and self.deadline_at is not None and now >= self.deadline_at

    def complete(self, event: SessionScored, now: datetime) -> None:
        self._require({"scoring"}, "SessionScored")
        self.record(event)
        self._status_changed("completed", now, overall_score=event.overall_score)

    def rescored(self, event: SessionScored) -> None:
        """A new score for a completed session (an admin re-score): the status stays
        completed; the read model keeps every scoring in its history."""
        self._require({"completed"}, "SessionScored (re-score)")
        self.record(event)

    def fail(self, event: SessionFailed, now: datetime) -> bool:
        """Fail the session; True when its quota should be given back (only the first time)."""
        self._require({"queued", "ready", "scoring"}, "SessionFailed")
        self.record(event)
        self._status_changed("failed", now, reason=event.reason)
        return True

    # -- rules ---------------------------------------------------------------------------
    def _require(self, allowed: set[str], what: str) -> None:
        if self.status not in allowed:
            raise IllegalTransition(f"{what} cannot happen to a {self.status} session {self.id}")

    def _validate(self, answers: list[Answer], draft: bool = False) -> None:
        by_id = {q.question_id: q for q in self.questions}
        seen: set[str] = set()
        problems: list[dict[str, Any]] = []
        for index, answer in enumerate(answers):
            where = ["body", "answers", index]
            question = by_id.get(answer.question_id)
            if question is None:
                problems.append(
                    {
                        "loc": [*where, "question_id"],
                        "msg": "not a question of this session",
                        "type": "unknown_question",
                    }
                )
                continue
            if answer.question_id in seen:
                problems.append(
                    {
                        "loc": [*where, "question_id"],
                        "msg": "answered twice",
                        "type": "duplicate_answer",
                    }
                )
            seen.add(answer.question_id)
            if len(answer.response) > MAX_ANSWER_CHARS:
                problems.append(
                    {
                        "loc": [*where, "response"],
                        "msg": f"at most {MAX_ANSWER_CHARS} characters",
                        "type": "too_long",
                    }
                )
            if question.kind == "coding":
                if answer.language not in LANGUAGES and not (draft and answer.language is None):
                    problems.append(
                        {
                            "loc": [*where, "language"],
                            "msg": f"one of {sorted(LANGUAGES)}",
                            "type": "unsupported_language",
                        }
                    )
            elif answer.language is not None:
                problems.append(
                    {
                        "loc": [*where, "language"],
                        "msg": "behavioural answers have no language",
                        "type": "unsupported_language",
                    }
                )
        if not answers and not draft:
            problems.append(
                {"loc": ["body", "answers"], "msg": "at least one answer", "type": "missing"}
            )
        if problems:
            raise InvalidAnswers(
                "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems),
                errors=problems,
            )

    def _status_changed(
        self,
        status: Status,
        now: datetime,
        reason: str | None = None,
        overall_score: int | None = None,
    ) -> None:
        self.record(
            SessionStatusChanged(
                session_id=self.id,
                user_id=self.user_id,
                status=status,
                sequence=self.version + len(self.pending) + 1,
                reason=reason,
                overall_score=overall_score,
                changed_at=now,
            )
        )

    # -- fold ----------------------------------------------------------------------------
    def when(self, event: DomainEvent) -> None:
        if isinstance(event, SessionRequested):
            self.user_id = event.user_id
            self.quota_week = event.quota_week
            self.questions = event.questions
            self.time_limit_minutes = event.time_limit_minutes
        elif isinstance(event, AnswersSubmitted):
            self.answers = event.answers
        elif isinstance(event, SessionFailed):
            self.quota_refunded = True
        elif isinstance(event, SessionStatusChanged):
            self.status = event.status
            if event.status == "ready" and self.time_limit_minutes:
                self.deadline_at = event.changed_at + timedelta(minutes=self.time_limit_minutes)
