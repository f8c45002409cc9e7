"""Single-use tokens mailed to an account's owner (password reset, email verification):
random strings of which only the SHA-256 hash is stored, with a purpose, an expiry and the
time they were spent. Spending is one conditional update, so of two concurrent uses exactly
one wins."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ASCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

from auth.domain.tokens import Minted, Purpose, digest


class AccountTokens:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["account_tokens"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("user_id", ASCENDING), ("purpose", ASCENDING)])
        # spent and expired tokens are useless: gone a day after their expiry
        await self.collection.create_index(
            [("expires_at", ASCENDING)], expireAfterSeconds=24 * 3600, name="expired_ttl"
        )

    async def store(
        self,
        minted: Minted,
        purpose: Purpose,
        user_id: str,
        email: str,
        session: AsyncClientSession | None = None,
    ) -> None:
        await self.collection.insert_one(
            {
                "_id": minted.digest,
                "purpose": purpose,
                "user_id": user_id,
                "email": email,
                "created_at": datetime.now(UTC),
                "expires_at": minted.expires_at,
                "used_at": None,
            },
            session=session,
        )

    async def peek(self, token: str, purpose: Purpose) -> Document | None:
        return await self.collection.find_one({"_id": digest(token), "purpose": purpose})

    async def spend(self, token: str, purpose: Purpose) -> Document | None:
        """The token's row if it was live and is now spent; None if unknown, used or expired."""
        now = datetime.now(UTC)
        taken = await self.collection.update_one(
            {"_id": digest(token), "purpose": purpose, "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}},
        )
        if not taken.modified_count:
            return None
        return await self.collection.find_one({"_id": digest(token)})

    async def last_issued(self, user_id: str, purpose: Purpose) -> datetime | None:
        cursor = (
            self.collection.find({"user_id": user_id, "purpose": purpose})
            .sort("created_at", -1)
            .limit(1)
        )
        async for doc in cursor:
            created: datetime = doc["created_at"]
            return created if created.tzinfo else created.replace(tzinfo=UTC)
        return None

    async def spend_all(self, user_id: str, purpose: Purpose) -> None:
        """Retire every live token of the user for `purpose` (a reset used one of several)."""
        await self.collection.update_many(
            {"user_id": user_id, "purpose": purpose, "used_at": None},
            {"$set": {"used_at": datetime.now(UTC)}},
        )
