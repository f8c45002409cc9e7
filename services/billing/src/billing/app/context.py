"""What every billing use case works with: the unit of work, the stores (event-sourced
subscriptions and their view, the payments ledger, processed Stripe events, checkouts), the
plans, the clock and the payment provider, and the one way a changed subscription is saved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from servicekit.eventstore import Repository
from servicekit.mongo import AsyncClientSession
from servicekit.unit_of_work import UnitOfWork

from billing.adapters.checkouts import Checkouts
from billing.adapters.payments import PaymentsLedger, ProcessedStripeEvents
from billing.adapters.subscriptions import SubscriptionsView
from billing.app.ports import PaymentProvider
from billing.domain.plans import Catalog, Plan
from billing.domain.subscription import Subscription
from billing.settings import Settings

Clock = Callable[[], datetime]


def catalog_from(settings: Settings) -> Catalog:
    return Catalog(
        free=Plan("free", settings.free_weekly_limit, 0, settings.currency.lower()),
        premium=Plan(
            "premium",
            settings.premium_weekly_limit,
            settings.premium_monthly_price,
            settings.currency.lower(),
            settings.stripe_price_premium,
        ),
    )


class BillingContext:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        provider: PaymentProvider,
        clock: Clock,
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.catalog = catalog_from(settings)
        self.provider = provider
        self.clock = clock

    @property
    def repo(self) -> Repository[Subscription]:
        return Repository(self.uow.store, Subscription)

    @property
    def view(self) -> SubscriptionsView:
        return SubscriptionsView(self.uow.db)

    @property
    def ledger(self) -> PaymentsLedger:
        return PaymentsLedger(self.uow.db)

    @property
    def processed(self) -> ProcessedStripeEvents:
        return ProcessedStripeEvents(self.uow.db)

    @property
    def checkouts(self) -> Checkouts:
        return Checkouts(self.uow.db)

    async def ensure_indexes(self) -> None:
        await self.view.ensure_indexes()
        await self.ledger.ensure_indexes()
        await self.checkouts.ensure_indexes()

    async def save(
        self,
        subscription: Subscription,
        session: AsyncClientSession,
        correlation_id: str | None,
        causation_id: str | None = None,
    ) -> bool:
        """Append what the subscription recorded and update its view; False if nothing."""
        if not subscription.pending:
            return False
        await self.repo.save(
            subscription, session, correlation_id=correlation_id, causation_id=causation_id
        )
        await self.view.apply(subscription, session)
        return True
