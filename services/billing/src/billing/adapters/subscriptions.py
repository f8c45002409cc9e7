"""The `subscriptions` collection: one document per user."""

from __future__ import annotations

from datetime import datetime

from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class Subscriptions:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["subscriptions"]

    async def create_free(
        self, user_id: str, weekly_limit: int, now: datetime, session: AsyncClientSession
    ) -> None:
        """Idempotent by construction too: a second call leaves the first document alone."""
        await self.collection.update_one(
            {"_id": user_id},
            {
                "$setOnInsert": {
                    "plan": "free",
                    "status": "active",
                    "weekly_limit": weekly_limit,
                    "created_at": now,
                    "cancel_at_period_end": False,
                    "current_period_end": None,
                }
            },
            upsert=True,
            session=session,
        )

    async def get(self, user_id: str) -> Document | None:
        return await self.collection.find_one({"_id": user_id})
