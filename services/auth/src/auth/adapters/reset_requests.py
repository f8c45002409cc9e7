"""Password-reset requests waiting to be looked at.

`POST /auth/password/forgot` answers after one write, the same for every address: this row.
Looking the address up, minting the token and queueing the mail happen after the answer, in
one transaction that also deletes the row, so a crash in between leaves the row to be picked
up again (nothing lost, nothing mailed twice). Rows hold the address as typed, for a minute or
so; whatever is left expires after a day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class ResetRequests:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["password_reset_requests"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("created_at", ASCENDING)], expireAfterSeconds=24 * 3600, name="expire"
        )

    async def record(self, email: str, correlation_id: str | None) -> str:
        request_id = str(uuid.uuid4())
        await self.collection.insert_one(
            {
                "_id": request_id,
                "email": email[:320],
                "correlation_id": correlation_id,
                "created_at": datetime.now(UTC),
            }
        )
        return request_id

    async def get(self, request_id: str) -> Document | None:
        return await self.collection.find_one({"_id": request_id})

    async def take(self, request_id: str, session: AsyncClientSession) -> bool:
        """Remove the row inside the transaction that acts on it; False when another
        process already did."""
        result = await self.collection.delete_one({"_id": request_id}, session=session)
        return bool(result.deleted_count)

    async def left_behind(self, older_than: timedelta, limit: int = 100) -> list[str]:
        """Requests no process finished (it crashed after answering), oldest first."""
        cutoff = datetime.now(UTC) - older_than
        cursor = (
            self.collection.find({"created_at": {"$lt": cutoff}}, {"_id": 1})
            .sort("created_at", ASCENDING)
            .limit(limit)
        )
        return [str(doc["_id"]) async for doc in cursor]
