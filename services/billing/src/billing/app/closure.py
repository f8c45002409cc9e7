"""When a user deletes their account: expire the checkouts they left open, end at once every
subscription that could still charge them, drop premium (reason "deleted") and close."""

from __future__ import annotations

from contracts import EventEnvelope
from servicekit.logs import get_logger
from servicekit.mongo import AsyncClientSession

from billing.app.context import BillingContext
from billing.domain.subscription import StripeSubscription, Subscription

log = get_logger(__name__)


class AccountClosure:
    def __init__(self, ctx: BillingContext) -> None:
        self.ctx = ctx

    async def close_account(
        self, user_id: str, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        """On UserDeleted (in the consumer's transaction, with its inbox row). Nothing to do
        for a user billing never knew (no subscription, no checkout).

        The provider is called inside the transaction, so a failure (raised: the broker
        redelivers, then parks) leaves nothing behind; if the provider acted but the commit
        failed, the redelivery asks again and its answers for what is already done count as
        done."""
        ctx = self.ctx
        subscription = await ctx.repo.get(user_id, session=session)
        if subscription is not None and subscription.closed:
            return
        if subscription is None:
            if not await ctx.checkouts.any_for(user_id, session):
                return
            # a checkout, but UserRegistered not taken in yet: close all the same, so that
            # paying that checkout later finds the account closed rather than a new one
            subscription = Subscription(user_id)
        now = ctx.clock()
        subscription.open(ctx.catalog, now)
        to_end = {s.id: s for s in subscription.live_stripe_subscriptions()}
        expired: list[str] = []
        for checkout in await ctx.checkouts.open_of(user_id, now, session):
            checkout_id = str(checkout["_id"])
            ended = await ctx.provider.expire_checkout(checkout)
            if ended.status is None:
                continue
            await ctx.checkouts.end(checkout_id, ended.status, "account_deleted", now, session)
            if checkout.get("provider") == "local":
                continue
            expired.append(checkout_id)
            started = ended.started_subscription
            if started and started not in subscription.stripe:
                # paid just before the deletion, its webhooks not here yet: end it now too
                to_end[started] = StripeSubscription(id=started, status="incomplete", as_of=now)
        ended_subscriptions = [
            await ctx.provider.cancel_now(user_id, stripe_sub, now)
            for stripe_sub in to_end.values()
        ]
        subscription.close_for_deleted_account(ended_subscriptions, ctx.catalog, now)
        await ctx.save(
            subscription, session, envelope.correlation_id, causation_id=str(envelope.event_id)
        )
        log.info(
            "billing.account_closed",
            user_id=user_id,
            canceled=[facts.subscription_id for facts in ended_subscriptions],
            checkouts_ended=expired,
        )
