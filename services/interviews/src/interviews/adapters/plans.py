"""Each user's plan, kept from billing's PlanUpgraded/PlanDowngraded events. The newest
`effective_at` wins, so a late, older event cannot undo a newer change."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class PlanBook:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["plans"]

    async def record(self, user_id: str, plan: str, effective_at: datetime) -> None:
        """One conditional upsert, idempotent by itself (no inbox needed): it writes when the
        stored change is not newer; when it is, the upsert's insert hits the existing `_id`
        and nothing changes. The same event again writes the same values."""
        try:
            await self.collection.update_one(
                {"_id": user_id, "effective_at": {"$lte": effective_at}},
                {"$set": {"plan": plan, "effective_at": effective_at}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a newer change is recorded already

    async def plan_of(self, user_id: str, session: AsyncClientSession | None = None) -> str:
        doc = await self.collection.find_one({"_id": user_id}, session=session)
        return str(doc["plan"]) if doc else "free"
