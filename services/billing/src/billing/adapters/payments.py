"""The payments ledger (one row per invoice outcome: amount, currency, status, Stripe ids)
and the record of processed Stripe events (`_id` = Stripe's event id, so each is handled
once: the row is written in the same transaction as the event's effects)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

from billing.domain.subscription import InvoiceFacts


class PaymentsLedger:
    name = "payments"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("user_id", ASCENDING), ("occurred_at", ASCENDING)])
        await self.collection.create_index([("status", ASCENDING), ("currency", ASCENDING)])

    async def record(
        self,
        user_id: str | None,
        invoice: InvoiceFacts,
        provider_ids: dict[str, Any],
        stripe_event_id: str,
        livemode: bool,
        now: datetime,
        session: AsyncClientSession,
    ) -> bool:
        """One row per invoice outcome (paid once; each failed attempt); False if present.
        Looked up first: a duplicate-key error would abort the whole transaction."""
        status = "paid" if invoice.paid else "failed"
        key = f"{invoice.invoice_id}:{status}"
        if not invoice.paid:
            key += f":{invoice.attempt}"
        if await self.collection.find_one({"_id": key}, {"_id": 1}, session=session):
            return False
        await self.collection.insert_one(
            {
                "_id": key,
                "user_id": user_id,
                "status": status,
                "amount": invoice.amount,
                "currency": invoice.currency,
                "attempt": invoice.attempt,
                "billing_reason": invoice.billing_reason,
                "invoice_id": invoice.invoice_id,
                "subscription_id": invoice.subscription_id,
                "customer_id": invoice.customer_id,
                "payment_intent_id": provider_ids.get("payment_intent_id"),
                "charge_id": provider_ids.get("charge_id"),
                "stripe_event_id": stripe_event_id,
                "livemode": livemode,
                "period_start": invoice.period_start,
                "period_end": invoice.period_end,
                "occurred_at": invoice.occurred_at,
                "recorded_at": now,
            },
            session=session,
        )
        return True

    async def revenue(self) -> dict[str, int]:
        """Money received, in minor units per currency."""
        cursor = await self.collection.aggregate(
            [
                {"$match": {"status": "paid"}},
                {"$group": {"_id": "$currency", "amount": {"$sum": "$amount"}}},
            ]
        )
        return {str(row["_id"]): int(row["amount"]) async for row in cursor}

    async def count(self, status: str) -> int:
        return int(await self.collection.count_documents({"status": status}))


class ProcessedStripeEvents:
    name = "stripe_events"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def claim(
        self,
        event_id: str,
        event_type: str,
        created: datetime,
        now: datetime,
        session: AsyncClientSession,
    ) -> None:
        """Raises DuplicateKeyError when the event was processed before (the unique `_id`)."""
        await self.collection.insert_one(
            {"_id": event_id, "type": event_type, "created": created, "received_at": now},
            session=session,
        )

    async def settle(
        self, event_id: str, user_id: str | None, outcome: str, session: AsyncClientSession
    ) -> None:
        await self.collection.update_one(
            {"_id": event_id},
            {"$set": {"user_id": user_id, "outcome": outcome}},
            session=session,
        )
