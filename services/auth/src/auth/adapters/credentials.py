"""Each account's password hash, one document per normalised email (`_id`) with the user id
it signs in: the unique `_id` is what refuses a second account for the same address."""

from __future__ import annotations

from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document


class Credentials:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db["credentials"]

    async def add(
        self, email: str, user_id: str, password_hash: str, session: AsyncClientSession
    ) -> None:
        """DuplicateKeyError when the address has an account already."""
        await self.collection.insert_one(
            {"_id": email, "user_id": user_id, "password_hash": password_hash}, session=session
        )

    async def get(self, email: str) -> Document | None:
        return await self.collection.find_one({"_id": email})

    async def set_password(
        self, email: str, user_id: str, password_hash: str, session: AsyncClientSession
    ) -> None:
        await self.collection.update_one(
            {"_id": email, "user_id": user_id},
            {"$set": {"password_hash": password_hash}},
            session=session,
        )

    async def remove(self, email: str | None, session: AsyncClientSession) -> None:
        await self.collection.delete_one({"_id": email}, session=session)
