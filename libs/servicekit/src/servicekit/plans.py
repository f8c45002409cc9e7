"""Each user's plan as billing last changed it, kept by the services that need it (auth, for
`GET /user/me` without a hop to billing; interviews, for the weekly quota) from
`PlanUpgraded`/`PlanDowngraded`. One rule for all of them: the newest `effective_at` wins, so a
late, older event cannot undo a newer change; an event as new as the stored one replaces it
(a redelivery writes the same values again)."""

from __future__ import annotations

from contracts import PlanDowngraded, PlanUpgraded
from pymongo.errors import DuplicateKeyError

from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

PlanChanged = PlanUpgraded | PlanDowngraded


class PlanProjection:
    """The `plans` collection of a service: one document a user, `_id` the user id."""

    def __init__(self, db: AsyncDatabase[Document], collection: str = "plans") -> None:
        self.collection = db[collection]

    async def record(self, event: PlanChanged) -> None:
        """One conditional upsert, idempotent by itself (no inbox row, no transaction): it
        writes when the stored change is not newer; when it is, the upsert's insert hits the
        existing `_id` and nothing changes."""
        try:
            await self.collection.update_one(
                {"_id": event.user_id, "effective_at": {"$lte": event.effective_at}},
                {
                    "$set": {
                        "plan": event.plan,
                        "weekly_limit": event.weekly_limit,
                        "effective_at": event.effective_at,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a newer change is recorded already

    async def get(self, user_id: str, session: AsyncClientSession | None = None) -> Document | None:
        return await self.collection.find_one({"_id": user_id}, session=session)

    async def plan_of(self, user_id: str, session: AsyncClientSession | None = None) -> str:
        """The user's plan; `free` for one billing never told us about."""
        doc = await self.get(user_id, session=session)
        return str(doc["plan"]) if doc else "free"
