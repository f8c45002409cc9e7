"""auth's use cases: register, authenticate, issue and rotate tokens, delete an account,
change a role. Ports (runtime, views, token store) are passed in; no HTTP here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo.errors import DuplicateKeyError
from servicekit.eventstore import Repository
from servicekit.logs import get_logger
from servicekit.mongo import AsyncClientSession, Document
from servicekit.plans import PlanProjection
from servicekit.problems import DomainError
from servicekit.unit_of_work import UnitOfWork

from auth.app.ports import (
    AccountTokenStore,
    CredentialStore,
    PasswordHasher,
    RefreshTokenStore,
    ResetRequestStore,
    Signer,
    Stores,
    UsersReadModel,
)
from auth.domain.tokens import Issued, mint
from auth.domain.user import (
    EmailTaken,
    InvalidRegistration,
    User,
    UserGone,
    check_password,
    normalise_email,
)
from auth.settings import Settings

log = get_logger(__name__)


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"
    title = "Email or password is wrong"


class InvalidAccountToken(DomainError):
    status = 400
    code = "invalid_token"
    title = "Invalid or expired link"


class ResendTooSoon(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


RESET_TTL = timedelta(minutes=30)
VERIFY_TTL = timedelta(hours=24)
RESEND_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh: Issued

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh.token,
        }


class Accounts:
    def __init__(
        self,
        uow: UnitOfWork,
        stores: Stores,
        settings: Settings,
        signer: Signer,
        passwords: PasswordHasher,
    ) -> None:
        self.uow = uow
        self.stores = stores
        self.settings = settings
        self.signer = signer
        self.passwords = passwords

    @property
    def credentials(self) -> CredentialStore:
        return self.stores.credentials()

    @property
    def users(self) -> UsersReadModel:
        return self.stores.users()

    @property
    def refresh_tokens(self) -> RefreshTokenStore:
        return self.stores.refresh_tokens()

    @property
    def account_tokens(self) -> AccountTokenStore:
        return self.stores.account_tokens()

    @property
    def reset_requests(self) -> ResetRequestStore:
        return self.stores.reset_requests()

    @property
    def repo(self) -> Repository[User]:
        return Repository(self.uow.store, User)

    async def _save(
        self, user: User, session: AsyncClientSession, correlation_id: str | None
    ) -> None:
        for envelope in await self.repo.save(user, session, correlation_id=correlation_id):
            await self.users.apply(envelope, session)

    async def register(
        self, name: str, raw_email: str, password: str, correlation_id: str | None
    ) -> dict[str, Any]:
        email = normalise_email(raw_email)
        check_password(password, email, name)
        password_hash = await self.passwords.hash(password)
        # never a role from the address alone: whoever registers an address first has not
        # proved they own it; the admin role is granted by an operator (`make admin`)
        role: Literal["user", "admin"] = "user"
        user_id = str(uuid.uuid4())

        verification = mint(VERIFY_TTL)

        async def work(session: AsyncClientSession) -> None:
            user = User.register(user_id, email, name, role, datetime.now(UTC))
            user.request_email_verification(verification.token, verification.expires_at)
            await self._save(user, session, correlation_id)
            await self.credentials.add(email, user_id, password_hash, session)
            await self.account_tokens.store(
                verification, "email_verification", user_id, email, session
            )

        try:
            await self.uow.command(work)
        except DuplicateKeyError as exc:
            raise EmailTaken("An account with this email already exists.") from exc
        doc = await self.users.get(user_id)
        assert doc is not None
        return doc

    async def authenticate(self, raw_email: str, password: str) -> dict[str, Any]:
        """The user for these credentials; the same work and answer for unknown emails."""
        try:
            email: str | None = normalise_email(raw_email)
        except InvalidRegistration:
            email = None
        cred = await self.credentials.get(email) if email else None
        if not await self.passwords.verify(cred["password_hash"] if cred else None, password):
            raise InvalidCredentials("Check the email and password and try again.")
        assert cred is not None
        user = await self.users.get(cred["user_id"])
        if user is None:
            raise InvalidCredentials("Check the email and password and try again.")
        return user

    def access_token(self, user: dict[str, Any], family_id: str) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": user["_id"],
            "role": user["role"],
            "email": user["email"],
            "sid": family_id,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=self.settings.jwt_access_ttl_seconds),
            "jti": uuid.uuid4().hex,
        }
        return self.signer.sign(claims)

    async def login(self, raw_email: str, password: str) -> TokenPair:
        user = await self.authenticate(raw_email, password)
        issued = await self.refresh_tokens.open_family(user["_id"])
        return TokenPair(
            self.access_token(user, issued.family_id), self.settings.jwt_access_ttl_seconds, issued
        )

    async def refresh(self, token: str) -> TokenPair:
        issued = await self.refresh_tokens.rotate(token)
        user = await self.users.get(issued.user_id)
        if user is None:
            await self.refresh_tokens.revoke_family(issued.family_id, reason="user gone")
            raise UserGone("This account no longer exists.")
        return TokenPair(
            self.access_token(user, issued.family_id), self.settings.jwt_access_ttl_seconds, issued
        )

    async def logout(self, user_id: str, refresh_token: str | None, session_id: str | None) -> None:
        """Revoke the login's family: the one of the refresh token, else the token's session."""
        store = self.refresh_tokens
        family = await store.family_of(refresh_token) if refresh_token else None
        if family is not None and family["user_id"] == user_id:
            await store.revoke_family(family["_id"], reason="logout")
        elif session_id:
            if await store.owns_family(user_id, session_id):
                await store.revoke_family(session_id, reason="logout")

    async def delete(self, user_id: str, correlation_id: str | None) -> None:
        async def work(session: AsyncClientSession) -> None:
            user = await self.repo.get(user_id, session=session)
            if user is None or user.deleted:
                raise UserGone("This account no longer exists.")
            email = user.email
            user.delete(datetime.now(UTC))
            await self._save(user, session, correlation_id)
            await self.credentials.remove(email, session)

        await self.uow.command(work)
        await self.refresh_tokens.revoke_user(user_id, reason="account deleted")

    async def rename(self, user_id: str, name: str, correlation_id: str | None) -> dict[str, Any]:
        async def work(session: AsyncClientSession) -> None:
            user = await self.repo.get(user_id, session=session)
            if user is None:
                raise UserGone("This account no longer exists.")
            if user.rename(name, datetime.now(UTC)):
                await self._save(user, session, correlation_id)

        await self.uow.command(work)
        doc = await self.users.get(user_id)
        if doc is None:
            raise UserGone("This account no longer exists.")
        return doc

    async def change_password(
        self,
        user_id: str,
        current_session: str | None,
        current_password: str,
        new_password: str,
        correlation_id: str | None,
    ) -> None:
        """Check the current password, apply the policy to the new one, and sign out every
        other login (refresh-token family) of the account."""
        doc = await self.users.get(user_id)
        if doc is None:
            raise UserGone("This account no longer exists.")
        cred = await self.credentials.get(doc["email"])
        stored_hash = cred["password_hash"] if cred else None
        if not await self.passwords.verify(stored_hash, current_password):
            raise InvalidCredentials("The current password is not right.")
        check_password(new_password, doc["email"], doc["name"])
        if await self.passwords.verify(cred["password_hash"] if cred else None, new_password):
            raise InvalidRegistration(
                "password: the new password must differ from the current one", field="new_password"
            )
        password_hash = await self.passwords.hash(new_password)

        await self._store_password(user_id, doc["email"], password_hash, correlation_id, None)
        await self.refresh_tokens.revoke_others(user_id, current_session, "password changed")

    async def _store_password(
        self,
        user_id: str,
        email: str,
        password_hash: str,
        correlation_id: str | None,
        deleted: DomainError | None,
    ) -> None:
        """Record PasswordChanged and the new hash in one transaction (a password change or
        a reset). `deleted`: what a deleted account raises here (None: the aggregate's own
        UserGone)."""

        async def work(session: AsyncClientSession) -> None:
            user = await self.repo.get(user_id, session=session)
            if user is None:
                raise deleted or UserGone("This account no longer exists.")
            if user.deleted and deleted is not None:
                raise deleted
            user.password_changed(datetime.now(UTC))
            await self._save(user, session, correlation_id)
            await self.credentials.set_password(email, user_id, password_hash, session)

        await self.uow.command(work)

    async def profile(self, user_id: str) -> tuple[Document, dict[str, Any]]:
        """The account and its plan (`plan`, `weekly_limit`; free until billing says more)."""
        doc = await self.users.get(user_id)
        if doc is None:
            raise UserGone("This account no longer exists.")
        plan = await PlanProjection(self.uow.db).get(user_id)
        if plan is None:
            plan = {"plan": "free", "weekly_limit": self.settings.free_weekly_limit}
        return doc, plan

    async def request_password_reset(self, raw_email: str, correlation_id: str | None) -> str:
        """What `POST /auth/password/forgot` does before answering: one write, the same for
        any address, so neither the answer nor its timing tells whether an account has it."""
        return await self.reset_requests.record(raw_email, correlation_id)

    async def handle_reset_request_quietly(self, request_id: str) -> None:
        """`handle_reset_request` after the answer has gone: a failure is logged, and the
        request stays to be picked up again by `handle_left_reset_requests`."""
        try:
            await self.handle_reset_request(request_id)
        except Exception:  # logged; the row is still there
            log.exception("auth.password_reset_request_failed", request=request_id)

    async def handle_left_reset_requests(self) -> int:
        """Requests a process answered and then did not finish (it crashed or stopped)."""
        grace = timedelta(seconds=self.settings.reset_request_grace_seconds)
        left = await self.reset_requests.left_behind(grace)
        for request_id in left:
            await self.handle_reset_request_quietly(request_id)
        return len(left)

    async def handle_reset_request(self, request_id: str) -> None:
        """Mint a reset token and mail it when an account has the address; in the same
        transaction the request is removed, so it is handled once."""
        request = await self.reset_requests.get(request_id)
        if request is None:
            return  # handled already
        try:
            email: str | None = normalise_email(request["email"])
        except InvalidRegistration:
            email = None
        reset = mint(RESET_TTL)
        doc = await self.users.by_email(email) if email else None

        async def work(session: AsyncClientSession) -> None:
            if not await self.reset_requests.take(request_id, session):
                return  # another process took it
            if doc is None:
                return
            user = await self.repo.get(doc["_id"], session=session)
            if user is None or user.deleted or user.email is None:
                return
            # the plain token rides only in the event (to notifications, for the link);
            # auth keeps its hash
            user.request_password_reset(reset.token, reset.expires_at)
            await self._save(user, session, request.get("correlation_id"))
            await self.account_tokens.store(reset, "password_reset", user.id, user.email, session)

        await self.uow.command(work)

    async def reset_password(
        self, token: str, new_password: str, correlation_id: str | None
    ) -> None:
        """Spend the mailed token, set the new password and sign out every login."""
        tokens = self.account_tokens
        row = await tokens.peek(token, "password_reset")
        now = datetime.now(UTC)
        if row is None or row["used_at"] is not None or row["expires_at"] <= now:
            raise InvalidAccountToken("This reset link is not valid any more. Ask for a new one.")
        doc = await self.users.get(row["user_id"])
        if doc is None or doc["email"] != row["email"]:
            raise InvalidAccountToken("This reset link is not valid any more. Ask for a new one.")
        # the policy first: a weak password leaves the token usable for a better one
        check_password(new_password, doc["email"], doc["name"])
        password_hash = await self.passwords.hash(new_password)
        if await tokens.spend(token, "password_reset") is None:
            raise InvalidAccountToken("This reset link is not valid any more. Ask for a new one.")
        user_id = doc["_id"]

        await self._store_password(
            user_id,
            doc["email"],
            password_hash,
            correlation_id,
            InvalidAccountToken("This account no longer exists."),
        )
        await tokens.spend_all(user_id, "password_reset")
        await self.refresh_tokens.revoke_user(user_id, reason="password reset")

    async def resend_verification(self, user_id: str, correlation_id: str | None) -> None:
        """Mail a fresh verification link; 429 within a minute of the last one. A verified
        address gets nothing new (the answer is the same)."""
        tokens = self.account_tokens
        last = await tokens.last_issued(user_id, "email_verification")
        now = datetime.now(UTC)
        if last is not None and now - last < RESEND_INTERVAL:
            wait = int((RESEND_INTERVAL - (now - last)).total_seconds()) + 1
            raise ResendTooSoon(
                "A verification mail was just sent; try again in a minute.",
                headers={"Retry-After": str(wait)},
            )
        verification = mint(VERIFY_TTL)

        async def work(session: AsyncClientSession) -> None:
            user = await self.repo.get(user_id, session=session)
            if user is None or user.deleted or user.email is None:
                raise UserGone("This account no longer exists.")
            if user.email_verified:
                return
            user.request_email_verification(verification.token, verification.expires_at)
            await self._save(user, session, correlation_id)
            await tokens.store(verification, "email_verification", user_id, user.email, session)

        await self.uow.command(work)

    async def verify_email(self, token: str, correlation_id: str | None) -> str:
        """Spend the mailed token and mark the address verified; the account's id."""
        row = await self.account_tokens.spend(token, "email_verification")
        if row is None:
            raise InvalidAccountToken("This verification link is not valid any more.")
        user_id = row["user_id"]

        async def work(session: AsyncClientSession) -> None:
            user = await self.repo.get(user_id, session=session)
            if user is None or user.deleted:
                raise InvalidAccountToken("This account no longer exists.")
            if user.verify_email(row["email"], datetime.now(UTC)):
                await self._save(user, session, correlation_id)

        await self.uow.command(work)
        return str(user_id)

    async def set_role(self, raw_email: str, role: Literal["user", "admin"], reason: str) -> bool:
        email = normalise_email(raw_email)
        doc = await self.users.by_email(email)
        if doc is None:
            raise DomainError(
                f"No user with email {email}.",
                status=404,
                code="user_not_found",
                title="User not found",
            )

        async def work(session: AsyncClientSession) -> bool:
            user = await self.repo.get(doc["_id"], session=session)
            assert user is not None
            changed = user.change_role(role, datetime.now(UTC), reason)
            await self._save(user, session, None)
            return changed

        return await self.uow.command(work)
