"""The `users` read model: one document per live user, folded from the User stream. Its
unique email index, written in the registering transaction, is what makes emails unique.
Deleting a user removes the document, so the email can be registered again."""

from __future__ import annotations

from contracts import EventEnvelope, UserDeleted, UserRegistered, UserRoleChanged
from contracts.events import EmailVerified, UserRenamed
from pymongo import ASCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class UsersView:
    name = "users"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def counts(self) -> dict[str, int]:
        """Accounts and administrators, for /admin/stats: the collection's own count (its
        metadata, not a scan) and the administrators through the role index."""
        return {
            "users": await self.collection.estimated_document_count(),
            "admins": await self.collection.count_documents({"role": "admin"}),
        }

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("email", ASCENDING)], unique=True, name="email_unique")
        await self.collection.create_index([("role", ASCENDING)], name="by_role")

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None) -> None:
        event = envelope.event()
        version = envelope.aggregate_version
        if isinstance(event, UserRegistered):
            await self.collection.update_one(
                {"_id": event.user_id},
                {
                    "$set": {
                        "email": event.email,
                        "name": event.name,
                        "role": event.role,
                        "registered_at": event.registered_at,
                        "email_verified": False,
                        "version": version,
                    }
                },
                upsert=True,
                session=session,
            )
        elif isinstance(event, UserRoleChanged):
            await self.collection.update_one(
                {"_id": event.user_id},
                {"$set": {"role": event.role, "version": version}},
                session=session,
            )
        elif isinstance(event, UserRenamed):
            await self.collection.update_one(
                {"_id": event.user_id},
                {"$set": {"name": event.name, "version": version}},
                session=session,
            )
        elif isinstance(event, EmailVerified):
            await self.collection.update_one(
                {"_id": event.user_id},
                {"$set": {"email_verified": True, "version": version}},
                session=session,
            )
        elif isinstance(event, UserDeleted):
            await self.collection.delete_one({"_id": event.user_id}, session=session)

    async def reset(self) -> None:
        await self.collection.drop()
        await self.ensure_indexes()

    async def get(self, user_id: str) -> Document | None:
        return await self.collection.find_one({"_id": user_id})

    async def by_email(self, email: str) -> Document | None:
        return await self.collection.find_one({"email": email})
