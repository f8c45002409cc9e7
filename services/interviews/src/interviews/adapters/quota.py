"""The weekly quota ledger: one document per (user, ISO week) counting sessions taken.

Taking is one conditional update (`used < limit`) inside the transaction that appends
SessionRequested, so 50 simultaneous requests from a free user make exactly 2 sessions, and a
session is never created without its quota (or the other way round)."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class QuotaLedger:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["quota"]

    @staticmethod
    def key(user_id: str, week: str) -> str:
        return f"{user_id}:{week}"

    async def take(
        self, user_id: str, week: str, limit: int, now: datetime, session: AsyncClientSession
    ) -> int | None:
        """Count one more session this week; the new count, or None when the limit is reached."""
        if limit <= 0:
            return None
        key = self.key(user_id, week)
        # An update, then a find by _id in the same transaction, not one findAndModify:
        # secantusdb answers a findAndModify that matches an existing document by scanning the
        # collection (~1 s at 20,000 documents, measured), and this one matches on every
        # second session of a week; update_one and find_one by _id stay ~5 ms.
        try:
            await self.collection.update_one(
                {"_id": key, "used": {"$lt": limit}},
                {
                    "$inc": {"used": 1},
                    "$set": {"user_id": user_id, "week": week, "updated_at": now},
                },
                upsert=True,
                session=session,
            )
        except DuplicateKeyError:
            return None  # the document exists and is at the limit: the upsert had no match
        doc = await self.collection.find_one({"_id": key}, {"used": 1}, session=session)
        return int(doc["used"]) if doc else None

    async def give_back(self, user_id: str, week: str, session: AsyncClientSession) -> None:
        await self.collection.update_one(
            {"_id": self.key(user_id, week), "used": {"$gt": 0}},
            {"$inc": {"used": -1}},
            session=session,
        )

    async def used(self, user_id: str, week: str) -> int:
        doc = await self.collection.find_one({"_id": self.key(user_id, week)})
        return int(doc["used"]) if doc else 0
