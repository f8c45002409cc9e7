"""What auth's use cases need from the outside, as protocols: the adapters in `auth.adapters`
fit them; `Stores` hands the store-backed ones out, built on the service's database
(`adapters.stores.MongoStores`). Tests may hand in others."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from contracts import EventEnvelope
from servicekit.mongo import AsyncClientSession, Document

from auth.domain.tokens import Issued, Minted, Purpose


class PasswordHasher(Protocol):
    """Slow password hashing off the event loop (`adapters.passwords.Argon2Passwords`)."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """The same work whether or not there is a stored hash (unknown emails)."""
        ...


class Signer(Protocol):
    """Signs access tokens with the active key (`adapters.keys.KeyRing`)."""

    def sign(self, claims: dict[str, Any]) -> str: ...

    def jwks(self) -> dict[str, Any]:
        """The public keys that verify what it signs, active and retired (RFC 7517)."""
        ...


class CredentialStore(Protocol):
    """Password hashes by email (`adapters.credentials.Credentials`)."""

    async def add(
        self, email: str, user_id: str, password_hash: str, session: AsyncClientSession
    ) -> None: ...

    async def get(self, email: str) -> Document | None: ...

    async def set_password(
        self, email: str, user_id: str, password_hash: str, session: AsyncClientSession
    ) -> None: ...

    async def remove(self, email: str | None, session: AsyncClientSession) -> None: ...


class UsersReadModel(Protocol):
    """The users as the API shows them (`adapters.users_view.UsersView`)."""

    async def ensure_indexes(self) -> None: ...

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None) -> None: ...

    async def get(self, user_id: str) -> Document | None: ...

    async def by_email(self, email: str) -> Document | None: ...

    async def counts(self) -> dict[str, int]: ...


class RefreshTokenStore(Protocol):
    """Refresh token families (`adapters.refresh_tokens.RefreshTokens`)."""

    async def ensure_indexes(self) -> None: ...

    async def open_family(self, user_id: str) -> Issued: ...

    async def rotate(self, token: str) -> Issued:
        """Spend `token` and return its successor; reuse revokes the family."""
        ...

    async def family_of(self, token: str) -> Document | None: ...

    async def owns_family(self, user_id: str, family_id: str) -> bool: ...

    async def revoke_family(self, family_id: str, reason: str) -> None: ...

    async def revoke_user(self, user_id: str, reason: str) -> None: ...

    async def revoke_others(self, user_id: str, keep_family: str | None, reason: str) -> None: ...


class AccountTokenStore(Protocol):
    """Single-use mailed tokens (`adapters.account_tokens.AccountTokens`)."""

    async def ensure_indexes(self) -> None: ...

    async def store(
        self,
        minted: Minted,
        purpose: Purpose,
        user_id: str,
        email: str,
        session: AsyncClientSession | None = None,
    ) -> None: ...

    async def peek(self, token: str, purpose: Purpose) -> Document | None:
        """The token's row, live or not, without spending it."""
        ...

    async def spend(self, token: str, purpose: Purpose) -> Document | None: ...

    async def last_issued(self, user_id: str, purpose: Purpose) -> datetime | None: ...

    async def spend_all(self, user_id: str, purpose: Purpose) -> None: ...


class ResetRequestStore(Protocol):
    """Password reset requests answered but not yet acted on
    (`adapters.reset_requests.ResetRequests`)."""

    async def ensure_indexes(self) -> None: ...

    async def record(self, email: str, correlation_id: str | None) -> str: ...

    async def get(self, request_id: str) -> Document | None: ...

    async def take(self, request_id: str, session: AsyncClientSession) -> bool: ...

    async def left_behind(self, older_than: timedelta, limit: int = 100) -> list[str]: ...


class Stores(Protocol):
    """The store-backed adapters a use case works through, each on the service's database."""

    def credentials(self) -> CredentialStore: ...

    def users(self) -> UsersReadModel: ...

    def refresh_tokens(self) -> RefreshTokenStore: ...

    def account_tokens(self) -> AccountTokenStore: ...

    def reset_requests(self) -> ResetRequestStore: ...
