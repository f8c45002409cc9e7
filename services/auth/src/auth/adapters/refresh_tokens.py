"""Refresh tokens: opaque random strings, stored only as SHA-256 hashes, grouped in families
(one family per login). Each use rotates the token; using a rotated token again means it was
stolen or replayed, so the whole family is revoked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING
from servicekit.mongo import AsyncDatabase, Document

from auth.domain.tokens import (
    Issued,
    RefreshTokenInvalid,
    RefreshTokenReused,
    new_token,
)
from auth.domain.tokens import digest as _digest

__all__ = ["Issued", "RefreshTokenInvalid", "RefreshTokenReused", "RefreshTokens"]


class RefreshTokens:
    def __init__(self, db: AsyncDatabase[Document], ttl: timedelta) -> None:
        self.tokens = db["refresh_tokens"]
        self.families = db["refresh_families"]
        self.ttl = ttl

    async def ensure_indexes(self) -> None:
        await self.tokens.create_index([("family_id", ASCENDING)])
        await self.families.create_index([("user_id", ASCENDING)])

    async def _mint(self, family_id: str, user_id: str, now: datetime) -> Issued:
        token = new_token()
        expires_at = now + self.ttl
        await self.tokens.insert_one(
            {
                "_id": _digest(token),
                "family_id": family_id,
                "user_id": user_id,
                "created_at": now,
                "expires_at": expires_at,
                "rotated_at": None,
            }
        )
        return Issued(token, family_id, user_id, expires_at)

    async def open_family(self, user_id: str) -> Issued:
        now = datetime.now(UTC)
        family_id = uuid.uuid4().hex
        await self.families.insert_one(
            {"_id": family_id, "user_id": user_id, "created_at": now, "revoked_at": None}
        )
        return await self._mint(family_id, user_id, now)

    async def rotate(self, token: str) -> Issued:
        """Spend `token` and return its successor; reuse revokes the family."""
        now = datetime.now(UTC)
        digest = _digest(token)
        # one conditional update spends the token (exactly one of concurrent uses matches),
        # then a read by _id; a findAndModify would do both in one trip on MongoDB, but the
        # development server answers it by scanning every token ever issued
        taken = await self.tokens.update_one(
            {"_id": digest, "rotated_at": None}, {"$set": {"rotated_at": now}}
        )
        spent = await self.tokens.find_one({"_id": digest}) if taken.modified_count else None
        if spent is None:
            known = await self.tokens.find_one({"_id": digest})
            if known is None:
                raise RefreshTokenInvalid("The refresh token is not valid.")
            await self.revoke_family(known["family_id"], reason="reuse")
            raise RefreshTokenReused(
                "This refresh token was already used; every session of this login is now "
                "signed out. Log in again."
            )
        family = await self.families.find_one({"_id": spent["family_id"]})
        if family is None or family["revoked_at"] is not None:
            raise RefreshTokenInvalid("This session has been signed out. Log in again.")
        if spent["expires_at"] <= now:
            raise RefreshTokenInvalid("The refresh token has expired. Log in again.")
        return await self._mint(spent["family_id"], spent["user_id"], now)

    async def family_of(self, token: str) -> Document | None:
        known = await self.tokens.find_one({"_id": _digest(token)})
        if known is None:
            return None
        return await self.families.find_one({"_id": known["family_id"]})

    async def owns_family(self, user_id: str, family_id: str) -> bool:
        return await self.families.find_one({"_id": family_id, "user_id": user_id}) is not None

    async def revoke_family(self, family_id: str, reason: str) -> None:
        await self.families.update_one(
            {"_id": family_id, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC), "revoked_because": reason}},
        )

    async def revoke_user(self, user_id: str, reason: str) -> None:
        await self.families.update_many(
            {"user_id": user_id, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC), "revoked_because": reason}},
        )

    async def revoke_others(self, user_id: str, keep_family: str | None, reason: str) -> None:
        """Revoke every live family of the user but `keep_family` (the caller's own login)."""
        query: dict[str, object] = {"user_id": user_id, "revoked_at": None}
        if keep_family:
            query["_id"] = {"$ne": keep_family}
        await self.families.update_many(
            query, {"$set": {"revoked_at": datetime.now(UTC), "revoked_because": reason}}
        )
