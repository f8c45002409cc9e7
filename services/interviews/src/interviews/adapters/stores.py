"""interviews' adapters on its Mongo database, handed out to the use cases
(`app.ports.Stores`). Each is built when asked: the database exists once the service has
started. The question catalog is one per process (it holds the bank in memory)."""

from __future__ import annotations

from servicekit.plans import PlanProjection
from servicekit.unit_of_work import UnitOfWork

from interviews.adapters.bank import QuestionBank, QuestionCatalog
from interviews.adapters.drafts import Drafts
from interviews.adapters.quota import QuotaLedger
from interviews.adapters.sessions_view import SessionsView


class MongoStores:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.catalog = QuestionCatalog(self.bank)

    def sessions(self) -> SessionsView:
        return SessionsView(self.uow.db)

    def bank(self) -> QuestionBank:
        return QuestionBank(self.uow.db)

    def quota(self) -> QuotaLedger:
        return QuotaLedger(self.uow.db)

    def drafts(self) -> Drafts:
        return Drafts(self.uow.db)

    def plans(self) -> PlanProjection:
        return PlanProjection(self.uow.db)
