"""The `subscriptions` read model: one document per user, the Subscription aggregate's state
after each change, written in the same transaction as its events. Rebuildable by folding
each stream again."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import DomainEvent
from pymongo import ASCENDING
from servicekit.eventstore import EventStore
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

from billing.domain.subscription import Subscription


class SubscriptionsView:
    name = "subscriptions"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("next_check_at", ASCENDING)], sparse=True, name="lapse_due"
        )
        await self.collection.create_index([("plan", ASCENDING)], name="by_plan")
        await self.collection.create_index([("customer_id", ASCENDING)], sparse=True)
        await self.collection.create_index([("stripe_subscription_ids", ASCENDING)])

    async def apply(self, subscription: Subscription, session: AsyncClientSession | None) -> None:
        await self.collection.update_one(
            {"_id": subscription.id},
            {"$set": subscription.snapshot() | {"updated_at": datetime.now(UTC)}},
            upsert=True,
            session=session,
        )

    async def get(self, user_id: str) -> Document | None:
        return await self.collection.find_one({"_id": user_id})

    async def user_for(self, customer_id: str | None, subscription_id: str | None) -> str | None:
        """Whose Stripe customer or subscription this is, when an event does not say."""
        for query in (
            {"stripe_subscription_ids": subscription_id} if subscription_id else None,
            {"customer_id": customer_id} if customer_id else None,
        ):
            if query is None:
                continue
            doc = await self.collection.find_one(query, {"_id": 1})
            if doc is not None:
                return str(doc["_id"])
        return None

    async def due(self, now: datetime, limit: int = 200) -> list[str]:
        cursor = self.collection.find({"next_check_at": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [str(doc["_id"]) async for doc in cursor]

    async def rebuild(self, store: EventStore) -> int:
        """Drop the view and fold every stream again; returns the number of subscriptions."""
        await self.collection.drop()
        await self.ensure_indexes()
        streams: dict[str, list[DomainEvent]] = {}
        for envelope in await store.all_events(Subscription.aggregate_type):
            streams.setdefault(envelope.aggregate_id, []).append(envelope.event())
        for user_id, history in streams.items():
            await self.apply(Subscription.from_history(user_id, history), None)
        return len(streams)
