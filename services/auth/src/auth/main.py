"""auth composition root."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from servicekit.identity import JwksVerifier
from servicekit.logs import get_logger
from servicekit.runtime import ServiceRuntime

from auth.adapters.keys import KeyRing
from auth.app.accounts import Accounts
from auth.entrypoints.consumers import register_consumers
from auth.entrypoints.http import router
from auth.settings import Settings

log = get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    keys = KeyRing.load(
        settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None,
        settings.jwt_key_id,
        settings.data_dir / "jwt-keys",
    )
    accounts = Accounts(rt, settings, keys)
    register_consumers(rt)
    tasks: list[asyncio.Task[None]] = []

    async def sweep_reset_requests_forever() -> None:
        # a reset request answered by a process that stopped before handling it
        while True:
            try:
                if left := await accounts.handle_left_reset_requests():
                    log.info("auth.reset_requests_recovered", count=left)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - try again at the next tick
                log.warning("auth.reset_requests_sweep_failed", error=repr(exc))
            await asyncio.sleep(settings.reset_request_sweep_seconds)

    @rt.on_startup
    async def _prepare(runtime: ServiceRuntime) -> None:
        await accounts.users.ensure_indexes()
        await accounts.refresh_tokens.ensure_indexes()
        await accounts.account_tokens.ensure_indexes()
        await accounts.reset_requests.ensure_indexes()
        if not tasks:
            tasks.append(asyncio.create_task(sweep_reset_requests_forever(), name="reset-sweep"))
        if settings.admins:
            # no longer honoured: the first to register an address had not proved they own it
            log.warning(
                "auth.admin_emails_ignored",
                detail="ADMIN_EMAILS grants nothing; grant the role with `make admin EMAIL=...`",
            )

    @rt.on_shutdown
    async def _stop(_: ServiceRuntime) -> None:
        for task in tasks:
            task.cancel()
        tasks.clear()

    app = rt.create_app([router], title="auth")
    app.state.accounts = accounts
    # auth holds the keys itself: verify against them directly, no HTTP hop to itself
    app.state.verifier = JwksVerifier(
        None,
        settings.jwt_issuer,
        settings.jwt_audience,
        jwks=keys.jwks(),
        max_lifetime_seconds=settings.jwt_access_ttl_seconds,
    )
    return app
