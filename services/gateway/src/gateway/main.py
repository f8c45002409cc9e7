"""gateway composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from contracts import (
    DomainEvent,
    EventEnvelope,
    PlanDowngraded,
    PlanUpgraded,
    SessionStatusChanged,
    UserDeleted,
    UserRoleChanged,
)
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from servicekit.identity import auth_verifier
from servicekit.runtime import ServiceRuntime

from gateway.adapters.edgestore import EdgeStore
from gateway.adapters.live import LiveSessions
from gateway.adapters.revocations import RevocationMemory
from gateway.adapters.upstream import Upstreams
from gateway.entrypoints.edge import (
    Edge,
    MeFastLane,
    RequestGuard,
    SecurityHeadersMiddleware,
    charge_refusal,
)
from gateway.entrypoints.http import router
from gateway.entrypoints.web import WebApp
from gateway.settings import Settings

DESCRIPTION = """The public API of the mock-interview platform.

Errors are RFC 9457 `application/problem+json` with a stable `code`. Every response carries
`X-Request-ID`. Authenticate with `Authorization: Bearer <access_token>` from `/auth/login`.
"""


def contract_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI, made true to what the gateway answers: a validation error is a
    problem+json (never FastAPI's own shape), and a body that is not JSON is a 400 problem."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            if "{" in path:  # a parameter spelled with encoded dots or slashes
                responses.setdefault(
                    "400",
                    {
                        "description": "The path holds dot segments or encoded separators",
                        "content": {"application/problem+json": {"schema": problem}},
                    },
                )
            if "422" in responses:
                responses["422"] = {
                    "description": "Validation failed",
                    "content": {"application/problem+json": {"schema": problem}},
                }
            if "requestBody" in op:
                responses.setdefault(
                    "400",
                    {
                        "description": "The body is not valid JSON",
                        "content": {"application/problem+json": {"schema": problem}},
                    },
                )
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # the gateway owns nothing durable: no Mongo, no outbox; Redis holds counters only
    rt = ServiceRuntime(settings, uses_mongo=False)
    upstreams = Upstreams(
        {
            "auth": settings.auth_url,
            "interviews": settings.interviews_url,
            "ai-runner": settings.ai_runner_url,
            "billing": settings.billing_url,
            "notifications": settings.notifications_url,
        },
        settings.upstream_timeout_seconds,
    )
    # no health_check_interval: it costs a clock read and a branch on every command; a dead
    # pooled connection fails its command and redis-py's retry reconnects
    redis_client = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
    )
    verifier = auth_verifier(settings)
    store = EdgeStore(
        redis_client,
        prefix=settings.redis_key_prefix,
        revoke_seconds=settings.jwt_access_ttl_seconds + 60,
    )
    revocations = RevocationMemory(settings.jwt_access_ttl_seconds + 60)
    edge = Edge(settings, verifier, store, revocations)

    live = LiveSessions()

    @rt.broadcast_consumer("SessionStatusChanged")
    async def _push(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, SessionStatusChanged)
        live.publish(event)

    @rt.stateless_consumer("UserDeleted")
    async def _revoke(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, UserDeleted)
        await store.revoke_user(event.user_id)
        await store.invalidate_me(event.user_id)

    # this replica's own copy of the revocations (every replica hears every one), which
    # holds when Redis does not
    @rt.broadcast_consumer("UserDeleted", name="revocations")
    async def _remember_deletion(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, UserDeleted)
        revocations.deleted(event.user_id)

    @rt.broadcast_consumer("UserRoleChanged", name="revocations")
    async def _remember_demotion(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, UserRoleChanged)
        if event.role == "admin":  # an admin again: the old tokens tell the truth again
            revocations.promoted(event.user_id)
        else:
            revocations.demoted(event.user_id, event.changed_at.timestamp())

    # The /user/me read model: drop a user's answer when what it shows changed. Each event
    # comes from the service that owns the change, after it committed (outbox), so the next
    # fill reads the new state; a plan change is billing's news that interviews applies on
    # its own time, so it also says which plan the next stored answer must show.
    @rt.stateless_consumer("UserRoleChanged", name="me")
    async def _role_changed(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, UserRoleChanged)
        # admin routes check the role the account has now
        if event.role == "admin":
            await store.promote_user(event.user_id)
        else:
            await store.demote_user(event.user_id, event.changed_at.timestamp())
        await store.invalidate_me(event.user_id)

    async def _plan_changed(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, PlanUpgraded | PlanDowngraded)
        await store.invalidate_me(event.user_id, expect_plan=event.plan)

    rt.stateless_consumer("PlanUpgraded", name="me")(_plan_changed)
    rt.stateless_consumer("PlanDowngraded", name="me")(_plan_changed)

    @rt.stateless_consumer("SessionStatusChanged", name="me")
    async def _session_changed(event: DomainEvent, envelope: EventEnvelope) -> None:
        assert isinstance(event, SessionStatusChanged)
        if event.status == "failed":  # interviews gave the quota back in that transaction
            await store.invalidate_me(event.user_id)

    async def redis_ok() -> bool:
        return bool(await redis_client.ping())

    if not settings.rate_limit_fail_open:
        rt.dependency_checks["redis"] = redis_ok
    else:
        rt.informational_checks["redis"] = redis_ok
        rt.degraded_notes["redis"] = lambda: (
            "rate limits are not enforced and /user/me is composed every time; revocations "
            + (
                "are checked against this replica's own copy"
                if edge.revocations.complete
                else "cannot be checked yet, so signed-in requests get 503"
            )
        )

    @rt.on_shutdown
    async def _close(_: ServiceRuntime) -> None:
        await upstreams.close()
        await redis_client.aclose()

    # innermost first: the fast lane answers inside the security headers, CORS and the
    # request context (ids, metrics, logs) that every response passes through
    middleware: list[tuple[object, dict[str, object]]] = [
        (MeFastLane, {}),
        (RequestGuard, {}),
    ]
    if settings.cors_origin_list:
        middleware.append(
            (
                CORSMiddleware,
                {
                    "allow_origins": settings.cors_origin_list,
                    "allow_credentials": True,
                    "allow_methods": ["GET", "POST", "PUT", "DELETE"],
                    "allow_headers": [
                        "Authorization",
                        "Content-Type",
                        "X-Request-ID",
                        "Last-Event-ID",
                    ],
                    "expose_headers": [
                        "X-Request-ID",
                        "Retry-After",
                        "Location",
                        "RateLimit-Limit",
                        "RateLimit-Remaining",
                        "RateLimit-Reset",
                    ],
                    "max_age": 600,
                },
            )
        )
    app = rt.create_app(
        [router],
        title="Mock-interview platform API",
        middleware=middleware,
        outer_middleware=[(SecurityHeadersMiddleware, {})],
        refusal_gate=charge_refusal,
    )
    app.description = DESCRIPTION
    app.version = "1.0.0"
    app.openapi = lambda: contract_openapi(app)  # type: ignore[method-assign]
    app.state.upstreams = upstreams
    app.state.verifier = verifier
    app.state.edge = edge
    app.state.store = store
    app.state.live = live
    app.state.web = WebApp(Path(settings.web_dist)) if settings.web_dist else None
    if settings.tracing_enabled:
        try:
            from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

            AioHttpClientInstrumentor().instrument()
        except Exception:  # noqa: BLE001 - tracing never stops the gateway from starting
            pass
    return app
