"""billing composition root."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.identity import JwksVerifier
from servicekit.runtime import ServiceRuntime

from billing.entrypoints.consumers import register_consumers
from billing.entrypoints.http import router
from billing.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = ServiceRuntime(settings)
    register_consumers(rt, settings)
    app = rt.create_app([router], title="billing")
    app.state.verifier = JwksVerifier(
        f"{settings.auth_url}/internal/jwks.json", settings.jwt_issuer, settings.jwt_audience
    )
    return app
