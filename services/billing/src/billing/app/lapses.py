"""Plans that end by time: a paid period over after a cancel, or a grace window after a failed
renewal run out (Stripe's own webhook may come later, or never locally)."""

from __future__ import annotations

from servicekit.mongo import AsyncClientSession

from billing.app.context import BillingContext


class Lapses:
    def __init__(self, ctx: BillingContext) -> None:
        self.ctx = ctx

    async def check_plans(self) -> int:
        """Drop the plans due now; how many changed."""
        ctx = self.ctx
        now = ctx.clock()
        changed = 0
        for user_id in await ctx.view.due(now):

            async def work(session: AsyncClientSession, user_id: str = user_id) -> bool:
                subscription = await ctx.repo.get(user_id, session=session)
                if subscription is None:
                    return False
                subscription.reconcile(ctx.catalog, now)
                return await ctx.save(subscription, session, None)

            if await ctx.uow.command(work):
                changed += 1
        return changed
