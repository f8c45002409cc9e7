"""Drafts: a candidate's work in progress on a `ready` session, one document per session,
saved over only by a writer who read the newest version (optimistic, `If-Match`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

from interviews.app.ports import StaleDraft


class Drafts:
    name = "drafts"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def get(
        self, session_id: str, session: AsyncClientSession | None = None
    ) -> Document | None:
        return await self.collection.find_one({"_id": session_id}, session=session)

    async def save(
        self,
        session_id: str,
        user_id: str,
        answers: list[dict[str, Any]],
        expected_version: int | None,
        now: datetime,
    ) -> Document:
        """Write version `expected_version + 1` (or 1 when `expected_version` is None and
        there is no draft yet); StaleDraft otherwise."""
        fields = {"user_id": user_id, "answers": answers, "saved_at": now}
        if expected_version is None:
            doc = {"_id": session_id, "version": 1, **fields}
            try:
                await self.collection.insert_one(doc)
            except DuplicateKeyError:
                current = await self.get(session_id)
                raise StaleDraft(int(current["version"]) if current else 0) from None
            return doc
        result = await self.collection.update_one(
            {"_id": session_id, "version": expected_version},
            {"$set": fields, "$inc": {"version": 1}},
        )
        if result.matched_count == 0:
            current = await self.get(session_id)
            raise StaleDraft(int(current["version"]) if current else 0)
        return {"_id": session_id, "version": expected_version + 1, **fields}
