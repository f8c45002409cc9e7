"""billing's use cases, one class each over a shared `BillingContext` (stores, plans, clock,
payment provider): the subscription (open, read, cancel at period end, figures), checkout
(and the local checkout page), Stripe's webhooks, account closure and plan lapses. The
payment provider is a port (`app.ports.PaymentProvider`): Stripe's API with a key, the local
stand-in without one. No HTTP here."""

from __future__ import annotations

from servicekit.unit_of_work import UnitOfWork

from billing.app.checkout import Checkout
from billing.app.closure import AccountClosure
from billing.app.context import BillingContext, Clock
from billing.app.lapses import Lapses
from billing.app.ports import PaymentProvider
from billing.app.subscriptions import Subscriptions
from billing.app.webhooks import Webhooks
from billing.settings import Settings


class Billing:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        webhook_secret: str,
        provider: PaymentProvider,
        clock: Clock,
    ) -> None:
        self.ctx = BillingContext(uow, settings, provider, clock)
        self.catalog = self.ctx.catalog
        self.subscriptions = Subscriptions(self.ctx)
        self.webhooks = Webhooks(self.ctx, webhook_secret)
        self.checkout = Checkout(self.ctx, self.webhooks)
        self.closure = AccountClosure(self.ctx)
        self.lapses = Lapses(self.ctx)

    async def ensure_indexes(self) -> None:
        await self.ctx.ensure_indexes()
