"""auth composition root."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from servicekit.identity import JwksVerifier
from servicekit.logs import get_logger
from servicekit.periodic import every
from servicekit.runtime import ServiceRuntime
from servicekit.unit_of_work import UnitOfWork

from auth.adapters.keys import KeyRing
from auth.adapters.passwords import Argon2Passwords
from auth.adapters.stores import MongoStores
from auth.app.accounts import Accounts
from auth.entrypoints.consumers import register_consumers
from auth.entrypoints.http import router
from auth.settings import Settings

log = get_logger(__name__)


def build_accounts(uow: UnitOfWork, settings: Settings, keys: KeyRing) -> Accounts:
    """The account use cases wired to their adapters (the service, and `auth.cli`)."""
    stores = MongoStores(uow, timedelta(days=settings.refresh_ttl_days))
    return Accounts(uow, stores, settings, keys, Argon2Passwords())


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    keys = KeyRing.load(
        settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None,
        settings.jwt_key_id,
        settings.data_dir / "jwt-keys",
    )
    accounts = build_accounts(rt, settings, keys)
    register_consumers(rt)

    @every(rt, settings.reset_request_sweep_seconds, "auth.reset_requests_sweep", first_after=0)
    async def sweep_reset_requests() -> None:
        # reset requests answered by a process that stopped before handling them
        if left := await accounts.handle_left_reset_requests():
            log.info("auth.reset_requests_recovered", count=left)

    @rt.on_startup
    async def _prepare(runtime: ServiceRuntime) -> None:
        await accounts.users.ensure_indexes()
        await accounts.refresh_tokens.ensure_indexes()
        await accounts.account_tokens.ensure_indexes()
        await accounts.reset_requests.ensure_indexes()
        if settings.admins:
            # no longer honoured: the first to register an address had not proved they own it
            log.warning(
                "auth.admin_emails_ignored",
                detail="ADMIN_EMAILS grants nothing; grant the role with `make admin EMAIL=...`",
            )

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
