"""Each user's plan, kept from billing's PlanUpgraded/PlanDowngraded events. The newest
`effective_at` wins, so a late, older event cannot undo a newer change."""

from __future__ import annotations

from datetime import datetime

from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class PlanBook:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["plans"]

    async def record(
        self, user_id: str, plan: str, effective_at: datetime, session: AsyncClientSession
    ) -> None:
        current = await self.collection.find_one({"_id": user_id}, session=session)
        if current and current["effective_at"] > effective_at:
            return
        await self.collection.update_one(
            {"_id": user_id},
            {"$set": {"plan": plan, "effective_at": effective_at}},
            upsert=True,
            session=session,
        )

    async def plan_of(self, user_id: str, session: AsyncClientSession | None = None) -> str:
        doc = await self.collection.find_one({"_id": user_id}, session=session)
        return str(doc["plan"]) if doc else "free"
