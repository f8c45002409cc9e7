"""What auth knows of each user's plan, kept from billing's PlanUpgraded/PlanDowngraded
events so `GET /user/me` answers without a hop to billing. Newer effective times win, so
out-of-order delivery cannot roll a plan back."""

from __future__ import annotations

from datetime import datetime

from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class Plans:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["plans"]

    async def record(
        self,
        user_id: str,
        plan: str,
        weekly_limit: int,
        effective_at: datetime,
        session: AsyncClientSession,
    ) -> None:
        await self.collection.update_one(
            {"_id": user_id},
            {"$max": {"effective_at": effective_at}},
            upsert=True,
            session=session,
        )
        await self.collection.update_one(
            {"_id": user_id, "effective_at": effective_at},
            {"$set": {"plan": plan, "weekly_limit": weekly_limit}},
            session=session,
        )

    async def get(self, user_id: str) -> Document | None:
        return await self.collection.find_one({"_id": user_id})
