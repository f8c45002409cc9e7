"""A user's subscription: opened on registration, read, cancelled at the period end; and
billing's figures for /admin/stats."""

from __future__ import annotations

from typing import Any

from contracts import EventEnvelope
from servicekit.mongo import AsyncClientSession

from billing.app.context import BillingContext
from billing.domain.subscription import NoActiveSubscription, Subscription


class Subscriptions:
    def __init__(self, ctx: BillingContext) -> None:
        self.ctx = ctx

    async def open(
        self, user_id: str, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        """On UserRegistered (in the consumer's transaction): the user starts on free."""
        ctx = self.ctx
        subscription = await ctx.repo.get(user_id, session=session) or Subscription(user_id)
        subscription.open(ctx.catalog, ctx.clock())
        await ctx.save(
            subscription, session, envelope.correlation_id, causation_id=str(envelope.event_id)
        )

    async def of(self, user_id: str) -> dict[str, Any]:
        ctx = self.ctx
        doc = await ctx.view.get(user_id)
        if doc is None:
            # UserRegistered not consumed yet: the user is on the free plan all the same
            doc = {
                "plan": "free",
                "status": "pending",
                "weekly_limit": ctx.catalog.free.weekly_limit,
            }
        plan = ctx.catalog.get(doc["plan"])
        period_end = doc.get("current_period_end")
        cancel = bool(doc.get("cancel_at_period_end"))
        return {
            "plan": plan.name,
            "status": doc["status"],
            "weekly_limit": doc["weekly_limit"],
            "monthly_price": plan.monthly_price,
            "currency": plan.currency,
            "subscription_id": doc.get("subscription_id"),
            "current_period_end": period_end,
            "next_billing_date": period_end if plan.name == "premium" and not cancel else None,
            "cancel_at_period_end": cancel,
            "grace_until": doc.get("grace_until"),
            "last_payment_failure": doc.get("last_payment_failure"),
            "downgrade_reason": doc.get("downgrade_reason"),
            "plans": [p.public() for p in ctx.catalog.all()],
        }

    async def cancel(self, user_id: str, correlation_id: str | None) -> dict[str, Any]:
        """Cancel at the end of the paid period: premium stays until then."""
        ctx = self.ctx
        subscription = await ctx.repo.get(user_id)
        if subscription is None:
            raise NoActiveSubscription("You have no paid subscription to cancel.")
        stripe_sub = subscription.cancellable()
        if stripe_sub.cancel_at_period_end:
            return await self.of(user_id)
        facts = await ctx.provider.cancel_at_period_end(user_id, stripe_sub, ctx.clock())

        async def work(session: AsyncClientSession) -> None:
            current = await ctx.repo.get(user_id, session=session)
            assert current is not None
            current.observe(facts, ctx.catalog, ctx.clock())
            await ctx.save(current, session, correlation_id)

        await ctx.uow.command(work)
        return await self.of(user_id)

    async def stats(self) -> dict[str, Any]:
        subscriptions = self.ctx.view.collection
        ledger = self.ctx.ledger
        premium = await subscriptions.count_documents({"plan": "premium"})
        return {
            "active_subscriptions": premium,
            "subscriptions": {
                "premium": premium,
                "past_due": await subscriptions.count_documents(
                    {"plan": "premium", "status": "past_due"}
                ),
                "canceling": await subscriptions.count_documents(
                    {"plan": "premium", "cancel_at_period_end": True}
                ),
                "free": await subscriptions.count_documents({"plan": "free"}),
            },
            "revenue": await ledger.revenue(),
            "payments": {
                "paid": await ledger.count("paid"),
                "failed": await ledger.count("failed"),
            },
        }
