"""The User aggregate and the rules about emails and passwords (pure, no I/O)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from contracts import DomainEvent, UserDeleted, UserRegistered, UserRoleChanged
from contracts.events import (
    EmailVerificationRequested,
    EmailVerified,
    PasswordChanged,
    PasswordResetRequested,
    UserRenamed,
)
from contracts.identity import canonical_email, email_problem, name_problem
from servicekit.domain import Aggregate, DomainError


class InvalidRegistration(DomainError):
    status = 422
    code = "validation_error"
    title = "Validation failed"


class EmailTaken(DomainError):
    status = 409
    code = "email_taken"
    title = "Email already registered"


def normalise_email(raw: str) -> str:
    """The canonical spelling (shared with the gateway's login limit), or 422."""
    email = canonical_email(raw)
    problem = email_problem(email)
    if problem:
        raise InvalidRegistration(f"email: {problem}", field="email")
    return email


def check_password(password: str, email: str, name: str) -> None:
    if len(password) < 10:
        raise InvalidRegistration("password: at least 10 characters", field="password")
    if len(password) > 128:
        raise InvalidRegistration("password: at most 128 characters", field="password")
    classes = sum(
        bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    if classes < 2 or len(set(password)) < 5:
        raise InvalidRegistration(
            "password: mix letters with digits, capitals or symbols", field="password"
        )
    lowered = password.lower()
    # only parts long enough to matter: a one-letter name must not forbid that letter
    parts = [email.split("@")[0], name.strip().lower(), *name.lower().split()]
    if any(len(part) >= 3 and part in lowered for part in parts):
        raise InvalidRegistration("password: must not contain your name or email", field="password")


class UserGone(DomainError):
    status = 401
    code = "invalid_token"
    title = "Invalid or expired access token"


def clean_name(name: str) -> str:
    """A display name as stored: visible characters only, single spaces, 1-100 characters."""
    problem = name_problem(name)
    if problem:
        raise InvalidRegistration(f"name: {problem}", field="name")
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= 100:
        raise InvalidRegistration("name: 1 to 100 characters", field="name")
    return cleaned


class User(Aggregate):
    aggregate_type = "user"
    # facts nobody else needs yet: kept in the stream, not published
    local_events = frozenset({"UserRenamed", "PasswordChanged", "EmailVerified"})

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.email: str | None = None
        self.name: str | None = None
        self.role: Literal["user", "admin"] = "user"
        self.deleted = False
        # unverified users may practise: nothing but this flag depends on verification
        self.email_verified = False

    @classmethod
    def register(
        cls, user_id: str, email: str, name: str, role: Literal["user", "admin"], now: datetime
    ) -> User:
        user = cls(user_id)
        user.record(
            UserRegistered(
                user_id=user_id, email=email, name=clean_name(name), role=role, registered_at=now
            )
        )
        return user

    def rename(self, name: str, now: datetime) -> bool:
        """Record a new display name; False when it is already that."""
        self._ensure_active()
        cleaned = clean_name(name)
        if cleaned == self.name:
            return False
        self.record(UserRenamed(user_id=self.id, name=cleaned, renamed_at=now))
        return True

    def password_changed(self, now: datetime) -> None:
        self._ensure_active()
        self.record(PasswordChanged(user_id=self.id, changed_at=now))

    def request_password_reset(self, token: str, expires_at: datetime) -> None:
        self._ensure_active()
        assert self.email is not None and self.name is not None
        self.record(
            PasswordResetRequested(
                user_id=self.id,
                email=self.email,
                name=self.name,
                token=token,
                expires_at=expires_at,
            )
        )

    def request_email_verification(self, token: str, expires_at: datetime) -> None:
        self._ensure_active()
        assert self.email is not None and self.name is not None
        self.record(
            EmailVerificationRequested(
                user_id=self.id,
                email=self.email,
                name=self.name,
                token=token,
                expires_at=expires_at,
            )
        )

    def verify_email(self, email: str, now: datetime) -> bool:
        """Mark the address verified; False when it already is (or it is not this address)."""
        self._ensure_active()
        if self.email_verified or email != self.email:
            return False
        self.record(EmailVerified(user_id=self.id, email=email, verified_at=now))
        return True

    def change_role(self, role: Literal["user", "admin"], now: datetime, reason: str) -> bool:
        """Record a role change; False (nothing recorded) when the role is already that."""
        self._ensure_active()
        if self.role == role:
            return False
        self.record(UserRoleChanged(user_id=self.id, role=role, changed_at=now, reason=reason))
        return True

    def delete(self, now: datetime) -> None:
        self._ensure_active()
        self.record(UserDeleted(user_id=self.id, deleted_at=now))

    def _ensure_active(self) -> None:
        if self.deleted:
            raise UserGone("This account has been deleted.")

    def when(self, event: DomainEvent) -> None:
        if isinstance(event, UserRegistered):
            self.email = event.email
            self.name = event.name
            self.role = event.role
        elif isinstance(event, UserRoleChanged):
            self.role = event.role
        elif isinstance(event, UserRenamed):
            self.name = event.name
        elif isinstance(event, EmailVerified):
            self.email_verified = True
        elif isinstance(event, UserDeleted):
            self.deleted = True
