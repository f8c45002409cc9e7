"""billing composition root."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import FastAPI
from servicekit.identity import auth_verifier
from servicekit.logs import get_logger
from servicekit.mongo import set_origin
from servicekit.runtime import ServiceRuntime

from billing.adapters.stripe_api import StripeApi
from billing.adapters.webhook_secret import load_webhook_secret
from billing.app.billing import Billing, Clock
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
    billing = Billing(rt, settings, secret, stripe_api, clock)
    register_consumers(rt, billing)
    tasks: list[asyncio.Task[None]] = []

    async def check_plans_forever() -> None:
        set_origin("plan-check")
        while True:
            await asyncio.sleep(settings.plan_check_seconds)
            try:
                if lapsed := await billing.check_plans():
                    log.info("plans.lapsed", count=lapsed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - try again at the next tick
                log.warning("plans.check_failed", error=repr(exc))

    @rt.on_startup
    async def _prepare(runtime: ServiceRuntime) -> None:
        await billing.ensure_indexes()
        if not tasks:
            tasks.append(asyncio.create_task(check_plans_forever(), name="plan-lapses"))
        log.info(
            "billing.mode",
            checkout="stripe" if stripe_api else "local",
            webhook_secret="configured" if settings.stripe_webhook_secret else "generated",
        )

    @rt.on_shutdown
    async def _stop(_: ServiceRuntime) -> None:
        for task in tasks:
            task.cancel()
        if stripe_api is not None:
            await stripe_api.close()

    app = rt.create_app([router], title="billing")
    app.state.billing = billing
    app.state.verifier = auth_verifier(settings)
    return app
