"""billing composition root."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from servicekit.identity import auth_verifier
from servicekit.logs import get_logger
from servicekit.periodic import every
from servicekit.runtime import ServiceRuntime

from billing.adapters.local_stripe import LocalProvider
from billing.adapters.stripe_api import StripeApi
from billing.adapters.stripe_provider import StripeProvider
from billing.adapters.webhook_secret import load_webhook_secret
from billing.app.billing import Billing
from billing.app.context import Clock
from billing.app.ports import PaymentProvider
from billing.entrypoints.consumers import register_consumers
from billing.entrypoints.http import router
from billing.settings import Settings

log = get_logger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings | None = None, clock: Clock = _utcnow) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    secret = load_webhook_secret(
        settings.stripe_webhook_secret.get_secret_value()
        if settings.stripe_webhook_secret
        else None,
        settings.data_dir,
    )
    stripe_api = (
        StripeApi(
            settings.stripe_api_key.get_secret_value(),
            settings.stripe_api_base,
            settings.stripe_max_network_retries,
            settings.stripe_timeout_seconds,
        )
        if settings.stripe_api_key
        else None
    )
    provider: PaymentProvider = (
        StripeProvider(stripe_api, settings.checkout_success_url, settings.checkout_cancel_url)
        if stripe_api is not None
        else LocalProvider(
            enabled=settings.local_checkout_enabled,
            public_url=settings.public_url,
            success_url=settings.checkout_success_url,
            ttl_seconds=settings.local_checkout_ttl_seconds,
            amount=settings.premium_monthly_price,
            currency=settings.currency.lower(),
            webhook_secret=secret,
        )
    )
    billing = Billing(rt, settings, secret, provider, clock)
    if isinstance(provider, LocalProvider):
        # the stand-in sends the webhooks Stripe would, to the same handler
        provider.receive = billing.webhooks.receive
    register_consumers(rt, billing)

    @every(rt, settings.plan_check_seconds, "plans.check")
    async def drop_lapsed_plans() -> None:
        if lapsed := await billing.lapses.check_plans():
            log.info("plans.lapsed", count=lapsed)

    @rt.on_startup
    async def _prepare(runtime: ServiceRuntime) -> None:
        await billing.ensure_indexes()
        log.info(
            "billing.mode",
            checkout="stripe" if stripe_api else "local",
            webhook_secret="configured" if settings.stripe_webhook_secret else "generated",
        )

    @rt.on_shutdown
    async def _stop(_: ServiceRuntime) -> None:
        if stripe_api is not None:
            await stripe_api.close()

    app = rt.create_app([router], title="billing")
    app.state.billing = billing
    app.state.verifier = auth_verifier(settings)
    return app
