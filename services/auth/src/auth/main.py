"""auth composition root."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.identity import JwksVerifier
from servicekit.runtime import ServiceRuntime

from auth.adapters.keys import KeyRing
from auth.adapters.users_view import UsersView
from auth.entrypoints.http import router
from auth.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)

    @rt.on_startup
    async def _indexes(runtime: ServiceRuntime) -> None:
        await UsersView(runtime.db).ensure_indexes()

    app = rt.create_app([router], title="auth")
    app.state.keys = KeyRing.load(
        settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None,
        settings.jwt_key_id,
        settings.data_dir / "jwt-keys",
    )
    # auth holds the keys itself: verify against them directly, no HTTP hop to itself
    app.state.verifier = JwksVerifier(
        None, settings.jwt_issuer, settings.jwt_audience, jwks=app.state.keys.jwks()
    )
    return app
