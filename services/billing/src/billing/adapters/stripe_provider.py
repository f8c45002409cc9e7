"""The payment provider port on Stripe's API (`StripeApi`), used when STRIPE_API_KEY is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.mongo import Document

from billing.adapters.stripe_api import StripeApi
from billing.adapters.stripe_events import subscription_facts
from billing.app.ports import CheckoutEnded, CheckoutRequest
from billing.domain.subscription import StripeSubscription, SubscriptionFacts


class StripeProvider:
    def __init__(self, api: StripeApi, success_url: str, cancel_url: str) -> None:
        self.api = api
        self.success_url = success_url
        self.cancel_url = cancel_url

    async def open_checkout(self, request: CheckoutRequest) -> dict[str, Any]:
        assert request.plan.stripe_price is not None
        session = await self.api.create_checkout(
            user_id=request.user_id,
            email=request.email,
            customer_id=request.customer_id,
            price=request.plan.stripe_price,
            plan=request.plan.name,
            success_url=self.success_url,
            cancel_url=self.cancel_url,
            idempotency_key=request.idempotency_key,
        )
        expires = (
            datetime.fromtimestamp(session.expires_at, UTC)
            if session.expires_at
            else request.now + timedelta(hours=24)
        )
        return {"_id": session.id, "provider": "stripe", "url": session.url, "expires_at": expires}

    async def cancel_at_period_end(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        answer = await self.api.cancel_at_period_end(subscription.id)
        # Stripe's answer has no time of its own: stamped with this second, as Stripe's own
        # webhook for the change will be
        return subscription_facts(
            answer, now.replace(microsecond=0), "api.subscriptions.update", None
        )

    async def cancel_now(
        self, user_id: str, subscription: StripeSubscription, now: datetime
    ) -> SubscriptionFacts:
        # stamped with this second on billing's clock, like the cancel at period end; the
        # aggregate makes sure the end is not taken for older news than what it knew
        stamp = now.replace(microsecond=0)
        answer = await self.api.cancel_now(subscription.id)
        if answer is None:  # Stripe no longer has it live: it charges no more
            return SubscriptionFacts(
                subscription_id=subscription.id,
                as_of=stamp,
                source="api.subscriptions.cancel",
                status="canceled",
            )
        return subscription_facts(answer, stamp, "api.subscriptions.cancel", None)

    async def expire_checkout(self, checkout: Document) -> CheckoutEnded:
        if checkout.get("provider") == "local":  # opened before the key was set
            return CheckoutEnded("expired")
        ended = await self.api.expire_checkout(str(checkout["_id"]))
        status = "complete" if ended.status == "complete" else "expired"
        return CheckoutEnded(status, ended.subscription_id)
