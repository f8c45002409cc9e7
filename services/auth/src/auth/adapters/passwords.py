"""Argon2id hashing off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
_DUMMY_HASH = _hasher.hash("dummy-password-for-unknown-emails")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Same work whether or not the user exists: unknown emails verify against a dummy hash."""

    def _verify() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


class Argon2Passwords:
    """The use cases' `PasswordHasher` port."""

    async def hash(self, password: str) -> str:
        return await hash_password(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        return await verify_password(stored_hash, password)
