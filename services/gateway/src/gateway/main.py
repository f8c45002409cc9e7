"""gateway composition root."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.identity import JwksVerifier
from servicekit.runtime import ServiceRuntime

from gateway.adapters.upstream import Upstreams
from gateway.entrypoints.http import router
from gateway.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # the gateway owns nothing durable: no Mongo, no outbox
    rt = ServiceRuntime(settings, uses_mongo=False)
    upstreams = Upstreams(
        {
            "auth": settings.auth_url,
            "interviews": settings.interviews_url,
            "ai-runner": settings.ai_runner_url,
            "billing": settings.billing_url,
        },
        settings.upstream_timeout_seconds,
    )

    @rt.on_shutdown
    async def _close(_: ServiceRuntime) -> None:
        await upstreams.close()

    app = rt.create_app([router], title="Mock-interview platform API")
    app.state.upstreams = upstreams
    app.state.verifier = JwksVerifier(
        f"{settings.auth_url}/internal/jwks.json", settings.jwt_issuer, settings.jwt_audience
    )
    try:
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

        AioHttpClientInstrumentor().instrument()
    except Exception:  # noqa: BLE001
        pass
    return app
