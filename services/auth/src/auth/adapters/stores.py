"""auth's adapters on its Mongo database, handed out to the use cases (`app.ports.Stores`).
Each is built when asked: the database exists once the service has started."""

from __future__ import annotations

from datetime import timedelta

from servicekit.unit_of_work import UnitOfWork

from auth.adapters.account_tokens import AccountTokens
from auth.adapters.credentials import Credentials
from auth.adapters.refresh_tokens import RefreshTokens
from auth.adapters.reset_requests import ResetRequests
from auth.adapters.users_view import UsersView


class MongoStores:
    def __init__(self, uow: UnitOfWork, refresh_ttl: timedelta) -> None:
        self.uow = uow
        self.refresh_ttl = refresh_ttl

    def credentials(self) -> Credentials:
        return Credentials(self.uow.db)

    def users(self) -> UsersView:
        return UsersView(self.uow.db)

    def refresh_tokens(self) -> RefreshTokens:
        return RefreshTokens(self.uow.db, self.refresh_ttl)

    def account_tokens(self) -> AccountTokens:
        return AccountTokens(self.uow.db)

    def reset_requests(self) -> ResetRequests:
        return ResetRequests(self.uow.db)
