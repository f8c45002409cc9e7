"""Checkout sessions started by users: Stripe's (by Stripe's session id) and local ones
(ids of 32 random url-safe bytes: the id is the only key to a local checkout page)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

LOCAL_PREFIX = "cs_local_"
LOCAL_ID = re.compile(r"^cs_local_[A-Za-z0-9_-]{43}$")


def new_local_id() -> str:
    return LOCAL_PREFIX + secrets.token_urlsafe(32)


class Checkouts:
    name = "checkouts"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("idempotency_key", ASCENDING), ("status", ASCENDING)], name="by_key"
        )
        await self.collection.create_index([("user_id", ASCENDING), ("created_at", ASCENDING)])

    async def open_for(self, idempotency_key: str, now: datetime) -> Document | None:
        """An open, unexpired checkout started for the same request (a double click)."""
        return await self.collection.find_one(
            {"idempotency_key": idempotency_key, "status": "open", "expires_at": {"$gt": now}}
        )

    async def save(self, doc: dict[str, Any]) -> None:
        await self.collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def get(self, checkout_id: str) -> Document | None:
        return await self.collection.find_one({"_id": checkout_id})

    async def close(
        self, checkout_id: str, status: str, field: str, now: datetime
    ) -> Document | None:
        """Move an open, unexpired checkout to `status` (once); None if it was not open."""
        # read, then a conditional update on the status read (exactly one of concurrent closes
        # matches): the development server answers a findAndModify by scanning every checkout
        doc = await self.collection.find_one({"_id": checkout_id})
        if doc is None or doc.get("status") != "open" or not doc["expires_at"] > now:
            return None
        taken = await self.collection.update_one(
            {"_id": checkout_id, "status": "open"}, {"$set": {"status": status, field: now}}
        )
        if not taken.modified_count:
            return None
        result: Document = {**doc, "status": status, field: now}
        return result

    async def any_for(self, user_id: str, session: AsyncClientSession) -> bool:
        """Whether the user ever started a checkout (paid or not, Stripe's or local)."""
        found = await self.collection.find_one({"user_id": user_id}, {"_id": 1}, session=session)
        return found is not None

    async def open_of(
        self, user_id: str, now: datetime, session: AsyncClientSession
    ) -> list[Document]:
        """The user's checkouts that may still be paid: open and unexpired as far as billing
        knows (a Stripe session stays "open" here until billing ends it, even once paid)."""
        cursor = self.collection.find(
            {"user_id": user_id, "status": "open", "expires_at": {"$gt": now}},
            session=session,
        )
        return [doc async for doc in cursor]

    async def end(
        self,
        checkout_id: str,
        status: str,
        reason: str,
        now: datetime,
        session: AsyncClientSession,
    ) -> None:
        """Mark an open checkout as ended by billing (e.g. "expired" because the account was
        deleted); a checkout no longer open is left as it is."""
        await self.collection.update_one(
            {"_id": checkout_id, "status": "open"},
            {"$set": {"status": status, "ended_reason": reason, "ended_at": now}},
            session=session,
        )
