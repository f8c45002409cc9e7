"""What auth knows of each user's plan, kept from billing's PlanUpgraded/PlanDowngraded
events so `GET /user/me` answers without a hop to billing. Newer effective times win, so
out-of-order delivery cannot roll a plan back."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError
from servicekit.mongo import AsyncDatabase, Document


class Plans:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["plans"]

    async def record(
        self,
        user_id: str,
        plan: str,
        weekly_limit: int,
        effective_at: datetime,
    ) -> None:
        """One conditional upsert, idempotent by itself (no inbox needed): it writes when the
        stored change is not newer; when it is, the upsert's insert hits the existing `_id`
        and nothing changes. The same event again writes the same values."""
        try:
            await self.collection.update_one(
                {"_id": user_id, "effective_at": {"$lte": effective_at}},
                {
                    "$set": {
                        "plan": plan,
                        "weekly_limit": weekly_limit,
                        "effective_at": effective_at,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a newer change is recorded already

    async def get(self, user_id: str) -> Document | None:
        return await self.collection.find_one({"_id": user_id})
