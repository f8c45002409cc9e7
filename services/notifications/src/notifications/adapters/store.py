"""notifications' own collections: `recipients` (where a user's mail goes, learned from
UserRegistered, forgotten on UserDeleted) and `deliveries` (one row per mail: the event that
asked for it and its purpose, unique together, and its delivery state)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

from notifications.domain.mail import CANCELLED, PENDING, SENDING, SENT, delivery_id

RECIPIENTS = "recipients"
DELIVERIES = "deliveries"


class Recipients:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[RECIPIENTS]

    async def remember(
        self, user_id: str, name: str, email: str, session: AsyncClientSession
    ) -> bool:
        """Store the address unless the account is already gone (events may come out of
        order: a UserDeleted seen first leaves a tombstone that a late UserRegistered
        must not bring back). True when stored."""
        now = datetime.now(UTC)
        known = await self.collection.find_one({"_id": user_id}, session=session)
        if known is not None and known.get("deleted"):
            # looked up, not left to the insert below: a duplicate key inside the inbox
            # transaction aborts it, and the event was redelivered until dead-lettered
            return False
        result = await self.collection.update_one(
            {"_id": user_id, "deleted": {"$ne": True}},
            {
                "$set": {"name": name, "email": email, "updated_at": now},
            },
            session=session,
        )
        if result.matched_count:
            return True
        try:
            await self.collection.insert_one(
                {"_id": user_id, "name": name, "email": email, "registered_at": now},
                session=session,
            )
        except DuplicateKeyError:
            return False  # a tombstone
        return True

    async def forget(self, user_id: str, session: AsyncClientSession) -> None:
        """Drop the name and address; keep only that the account is gone."""
        await self.collection.replace_one(
            {"_id": user_id},
            {"_id": user_id, "deleted": True, "deleted_at": datetime.now(UTC)},
            upsert=True,
            session=session,
        )

    async def preferences(self, user_id: str) -> dict[str, Any] | None:
        """The user's stored preferences ({} when none were set); None for a deleted account."""
        doc = await self.collection.find_one({"_id": user_id}, {"preferences": 1, "deleted": 1})
        if doc is not None and doc.get("deleted"):
            return None
        return dict((doc or {}).get("preferences") or {})

    async def set_preferences(self, user_id: str, changes: dict[str, bool]) -> Document | None:
        """Apply `changes` and return the stored preferences; None for a deleted account.
        Works before UserRegistered has come round (the address joins the row later)."""
        update: dict[str, Any] = {"$set": {f"preferences.{k}": v for k, v in changes.items()}}
        if not changes:
            update = {"$setOnInsert": {"preferences": {}}}
        # an update and a find by _id, not a findAndModify: the development store answers
        # one by scanning the collection (bench/store_ops.py)
        try:
            await self.collection.update_one(
                {"_id": user_id, "deleted": {"$ne": True}}, update, upsert=True
            )
        except DuplicateKeyError:
            return None  # the tombstone of a deleted account
        doc = await self.collection.find_one({"_id": user_id}, {"preferences": 1})
        return dict((doc or {}).get("preferences") or {})

    async def find(self, user_id: str) -> Document | None:
        return await self.collection.find_one({"_id": user_id})

    async def mark_undeliverable(self, user_id: str, email: str, reason: str) -> None:
        """The server refused this address for good: no more mail to it (until it changes)."""
        await self.collection.update_one(
            {"_id": user_id, "email": email},
            {"$set": {"undeliverable": reason[:500], "undeliverable_at": datetime.now(UTC)}},
        )


class Deliveries:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[DELIVERIES]
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("event_id", ASCENDING), ("purpose", ASCENDING)], unique=True, name="one_per_purpose"
        )
        await self.collection.create_index(
            [("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"
        )
        await self.collection.create_index([("user_id", ASCENDING)], name="by_user")

    async def request(
        self,
        event_id: str,
        purpose: str,
        user_id: str,
        context: dict[str, Any],
        session: AsyncClientSession,
    ) -> bool:
        """Record the mail in the consumer's transaction; False if it was recorded before
        (the key is what makes it one mail per event and purpose, or per user and week for
        a key that is not an event's). An upsert that finds the row changes nothing, where
        an insert's duplicate key would abort the whole inbox transaction."""
        now = datetime.now(UTC)
        result = await self.collection.update_one(
            {"_id": delivery_id(event_id, purpose)},
            {
                "$setOnInsert": {
                    "event_id": event_id,
                    "purpose": purpose,
                    "user_id": user_id,
                    "context": context,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            },
            upsert=True,
            session=session,
        )
        return result.upserted_id is not None

    async def cancel_for_user(self, user_id: str, session: AsyncClientSession) -> None:
        """The account is gone: nothing still waiting goes out."""
        await self.collection.update_many(
            {"user_id": user_id, "status": {"$in": [PENDING, SENDING]}},
            {
                "$set": {"status": CANCELLED, "reason": "account deleted"},
                "$unset": {"lease_until": "", "lease_owner": ""},
            },
            session=session,
        )
        # sent mail keeps its record (what was sent, when) but not where it went
        await self.collection.update_many(
            {"user_id": user_id, "to": {"$exists": True}},
            {"$unset": {"to": ""}},
            session=session,
        )

    async def claim(self, lease_seconds: float) -> Document | None:
        """Take one due mail for this process: a pending one whose time has come, or one
        whose sender's lease ran out (it crashed mid-send). A read of the first due one, then
        a compare-and-set on the state that read saw, so two replicas never hold the same
        mail at once: the loser's update matches nothing and it takes none this time. (Two
        commands rather than one findAndModify: the development store answers findAndModify
        by scanning the collection, and deliveries only grow.)"""
        now = datetime.now(UTC)
        due = await (
            self.collection.find(
                {
                    "$or": [
                        {"status": PENDING, "next_attempt_at": {"$lte": now}},
                        {"status": SENDING, "lease_until": {"$lt": now}},
                    ]
                }
            )
            .sort([("next_attempt_at", ASCENDING)])
            .limit(1)
            .to_list()
        )
        if not due:
            return None
        doc: Document = due[0]
        seen: dict[str, Any] = {"_id": doc["_id"], "status": doc["status"]}
        if doc["status"] == SENDING:
            seen["lease_until"] = doc.get("lease_until")
        lease = {
            "status": SENDING,
            "lease_owner": self.owner,
            "lease_until": now + timedelta(seconds=lease_seconds),
        }
        claimed = await self.collection.update_one(seen, {"$set": lease})
        if not claimed.modified_count:
            return None  # another replica took it between the read and the write
        return doc | lease

    async def _settle(self, doc: Document, update: dict[str, Any]) -> bool:
        update.setdefault("$unset", {}).update({"lease_until": "", "lease_owner": ""})
        result = await self.collection.update_one(
            {"_id": doc["_id"], "status": SENDING, "lease_owner": self.owner}, update
        )
        return bool(result.modified_count)

    async def sent(self, doc: Document, to: str) -> bool:
        now = datetime.now(UTC)
        return await self._settle(
            doc,
            {"$set": {"status": SENT, "sent_at": now, "to": to}, "$inc": {"attempts": 1}},
        )

    async def retry(self, doc: Document, reason: str, at: datetime, count: bool = True) -> bool:
        update: dict[str, Any] = {
            "$set": {"status": PENDING, "next_attempt_at": at, "last_error": reason[:1000]}
        }
        if count:
            update["$inc"] = {"attempts": 1}
        return await self._settle(doc, update)

    async def finish(self, doc: Document, status: str, reason: str, count: bool = True) -> bool:
        update: dict[str, Any] = {
            "$set": {"status": status, "reason": reason[:1000], "finished_at": datetime.now(UTC)}
        }
        if count:
            update["$inc"] = {"attempts": 1}
        return await self._settle(doc, update)
