"""Tokens a user holds: single-use account tokens mailed to the owner (password reset, email
verification) and rotating refresh tokens. Both are random strings of which only the SHA-256
hash is ever stored, so a copy of the store cannot be replayed. Pure: no store, no clock but
the one handed in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from servicekit.domain import DomainError

Purpose = Literal["password_reset", "email_verification"]


def digest(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Minted:
    token: str
    digest: str
    expires_at: datetime


def mint(ttl: timedelta, now: datetime | None = None) -> Minted:
    """A fresh account token and its hash (the same work whether or not it will be stored)."""
    token = new_token()
    return Minted(token, digest(token), (now or datetime.now(UTC)) + ttl)


@dataclass(frozen=True)
class Issued:
    """A refresh token as handed to the client: the only time its clear text exists."""

    token: str
    family_id: str
    user_id: str
    expires_at: datetime


class RefreshTokenInvalid(DomainError):
    status = 401
    code = "invalid_token"
    title = "Invalid refresh token"


class RefreshTokenReused(DomainError):
    status = 401
    code = "refresh_token_reused"
    title = "Refresh token reused"
