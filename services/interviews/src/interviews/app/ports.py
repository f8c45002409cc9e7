"""What interviews' use cases need from the outside, as protocols: the adapters in
`interviews.adapters` (and the sandbox's judge) fit them; `Stores` hands them out, built on
the service's database (`adapters.stores.MongoStores`). Tests may hand in others."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from contracts import EventEnvelope, PlanDowngraded, PlanUpgraded
from servicekit.mongo import AsyncClientSession, Document


class StaleDraft(Exception):
    """The draft changed since the writer read it (or exists when it expected none)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the draft is at version {current}")
        self.current = current


class Judge(Protocol):
    """The code sandbox (`codejudge.Judge`): runs a solution against tests."""

    async def run(self, **kwargs: Any) -> Any: ...


class QuestionStore(Protocol):
    """The question bank (`adapters.bank.QuestionBank`)."""

    async def exists(self, question_id: str) -> bool: ...

    async def get(self, question_id: str) -> Document | None: ...

    async def publish(self, question: Any) -> Document: ...

    async def deactivate(self, question_id: str) -> bool: ...


class QuestionPicker(Protocol):
    """The active questions as one catalog load holds them (`adapters.bank.QuestionCatalog`)."""

    def candidates(
        self, type_: str, difficulty: str | None, tags: list[str] | None
    ) -> list[str]: ...

    def question(self, question_id: str) -> Any: ...

    def search(
        self,
        *,
        type_: str | None = None,
        difficulty: str | None = None,
        tags: list[str] | None = None,
        tags_mode: str = "any",
        text: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[Document], int]: ...


class Catalog(Protocol):
    async def fresh(self) -> QuestionPicker:
        """The catalog, reloaded first if the bank changed since it was loaded."""
        ...


class SessionsReadModel(Protocol):
    """The sessions as the API shows them (`adapters.sessions_view.SessionsView`)."""

    async def ensure_indexes(self) -> None: ...

    async def apply_all(
        self,
        envelopes: list[EventEnvelope],
        session: AsyncClientSession | None,
        time_limit_minutes: int | None,
        read_back: bool = False,
    ) -> Document | None: ...

    async def get(self, session_id: str) -> Document | None: ...

    async def list_for(
        self, user_id: str, limit: int, offset: int
    ) -> tuple[list[Document], int]: ...

    async def recent_question_ids(self, user_id: str, sessions: int = 5) -> set[str]: ...

    async def past_time_limit(self, now: datetime, limit: int = 100) -> list[str]: ...

    async def unchanged_since(
        self, status: str, before: datetime, limit: int = 100
    ) -> list[str]: ...

    async def completed_of(self, user_id: str) -> list[Document]: ...

    async def stats(self) -> dict[str, Any]: ...


class QuotaBook(Protocol):
    """Sessions taken per user and week (`adapters.quota.QuotaLedger`)."""

    async def take(
        self, user_id: str, week: str, limit: int, now: datetime, session: AsyncClientSession
    ) -> int | None: ...

    async def give_back(self, user_id: str, week: str, session: AsyncClientSession) -> None: ...

    async def used(self, user_id: str, week: str) -> int: ...


class DraftStore(Protocol):
    """Work in progress of a session (`adapters.drafts.Drafts`); StaleDraft on a lost race."""

    async def get(
        self, session_id: str, session: AsyncClientSession | None = None
    ) -> Document | None: ...

    async def save(
        self,
        session_id: str,
        user_id: str,
        answers: list[dict[str, Any]],
        expected_version: int | None,
        now: datetime,
    ) -> Document: ...


class Plans(Protocol):
    """Each user's plan as billing last changed it (`servicekit.plans.PlanProjection`)."""

    async def record(self, event: PlanUpgraded | PlanDowngraded) -> None: ...

    async def plan_of(self, user_id: str, session: AsyncClientSession | None = None) -> str: ...


class Stores(Protocol):
    """The adapters a use case works through, each on the service's database."""

    @property
    def catalog(self) -> Catalog:
        """One per process: it holds the bank's active questions in memory."""
        ...

    def sessions(self) -> SessionsReadModel: ...

    def bank(self) -> QuestionStore: ...

    def quota(self) -> QuotaBook: ...

    def drafts(self) -> DraftStore: ...

    def plans(self) -> Plans: ...
