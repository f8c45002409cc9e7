"""Buying a plan: a checkout at the payment provider, and the local checkout page that stands
in for Stripe's without a key (Pay and Decline deliver the webhooks Stripe would send, signed
the same way, to the same handler)."""

from __future__ import annotations

from typing import Any

from servicekit.mongo import Document
from servicekit.problems import DomainError

from billing.adapters import local_stripe
from billing.adapters.checkouts import LOCAL_ID
from billing.app.context import BillingContext
from billing.app.ports import CheckoutRequest
from billing.app.webhooks import Webhooks
from billing.domain.plans import PlanNotPurchasable
from billing.domain.subscription import Subscription


class CheckoutNotFound(DomainError):
    status = 404
    code = "checkout_not_found"
    title = "Checkout not found"


class CheckoutClosed(DomainError):
    status = 409
    code = "checkout_closed"
    title = "Checkout already closed"


class Checkout:
    def __init__(self, ctx: BillingContext, webhooks: Webhooks) -> None:
        self.ctx = ctx
        self.webhooks = webhooks

    async def start(self, user_id: str, email: str | None, plan_name: str) -> dict[str, str]:
        ctx = self.ctx
        plan = ctx.catalog.get(plan_name)
        subscription = await ctx.repo.get(user_id)
        (subscription or Subscription(user_id)).ensure_can_buy(plan.name)
        if not plan.purchasable:
            raise PlanNotPurchasable(
                "The free plan is not bought: cancel the subscription to return to it."
            )
        now = ctx.clock()
        # the same user, plan and state give the same key: a double click makes one checkout
        key = f"checkout:{user_id}:{plan.name}:v{subscription.version if subscription else 0}"
        existing = await ctx.checkouts.open_for(key, now)
        if existing is not None:
            return {"checkout_url": existing["url"], "session_id": existing["_id"]}
        customer_id = subscription.customer_id if subscription else None
        opened = await ctx.provider.open_checkout(
            CheckoutRequest(user_id, email, customer_id, plan, key, now)
        )
        await ctx.checkouts.save(
            {
                "user_id": user_id,
                "email": email,
                "plan": plan.name,
                "amount": plan.monthly_price,
                "currency": plan.currency,
                "idempotency_key": key,
                "status": "open",
                "created_at": now,
            }
            | opened
        )
        return {"checkout_url": opened["url"], "session_id": opened["_id"]}

    # -- the local checkout page -----------------------------------------------------------
    def _require_local(self) -> None:
        if not self.ctx.settings.local_checkout_enabled:
            raise CheckoutNotFound("There is no local checkout here.")

    async def local(self, checkout_id: str) -> Document:
        self._require_local()
        doc = await self.ctx.checkouts.get(checkout_id) if LOCAL_ID.match(checkout_id) else None
        if doc is None or doc.get("provider") != "local":
            raise CheckoutNotFound("There is no such checkout.")
        if doc["status"] == "open" and doc["expires_at"] <= self.ctx.clock():
            doc["status"] = "expired"
        return doc

    async def _close_local(self, checkout_id: str, status: str, field: str) -> Document:
        doc = await self.local(checkout_id)
        closed = await self.ctx.checkouts.close(checkout_id, status, field, self.ctx.clock())
        if closed is not None:
            return closed
        doc = await self.local(checkout_id)
        if doc["status"] == status:
            return doc  # a repeat (double click, retry): its events are delivered again
        raise CheckoutClosed(f"This checkout is already {doc['status']}.")

    async def _refuse_closed_account(self, checkout_id: str) -> None:
        """A checkout of a deleted account is neither paid nor declined: nothing is charged
        and nothing is delivered."""
        doc = await self.local(checkout_id)
        subscription = await self.ctx.repo.get(str(doc["user_id"]))
        if subscription is not None:
            subscription.ensure_open()

    async def pay_local(self, checkout_id: str, correlation_id: str | None) -> Document:
        await self._refuse_closed_account(checkout_id)
        doc = await self._close_local(checkout_id, "paid", "paid_at")
        for event in local_stripe.payment_events(doc, doc["customer_id"]):
            await self._deliver(event, correlation_id)
        return doc

    async def decline_local(self, checkout_id: str, correlation_id: str | None) -> Document:
        await self._refuse_closed_account(checkout_id)
        doc = await self._close_local(checkout_id, "declined", "declined_at")
        for event in local_stripe.decline_events(doc, doc["customer_id"]):
            await self._deliver(event, correlation_id)
        return doc

    async def _deliver(self, event: dict[str, Any], correlation_id: str | None) -> None:
        await local_stripe.deliver_signed(
            self.webhooks.receive, self.webhooks.webhook_secret, event, correlation_id
        )
