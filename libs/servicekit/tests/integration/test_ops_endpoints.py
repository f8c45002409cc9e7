"""Ops endpoints and readiness as Kubernetes sees them: with OPS_PORT set, /healthz, /readyz
and /metrics answer on that port only (the API's port, where the Ingress and the other
services go, does not have them); /docs only where API_DOCS allows; readiness is "this
replica can serve" - a shared dependency that is down is reported, not gating - and it
answers inside the probe's timeout however many checks hang."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from servicekit.metrics import REGISTRY
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings
from servicekit.testing import eventually, free_port, running

PROBE_TIMEOUT_SECONDS = 3  # timeoutSeconds of every readinessProbe in deploy/k8s


async def test_with_an_ops_port_the_probes_and_metrics_leave_the_api_port(
    isolation: dict[str, Any],
) -> None:
    port = free_port()
    settings = ServiceSettings(
        service_name="opskit", ops_port=port, ops_host="127.0.0.1", **isolation
    )
    rt = ServiceRuntime(settings)
    app = rt.create_app()
    async with app.router.lifespan_context(app):
        ops = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5)
        api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        async with ops, api:

            async def ready() -> bool:
                return (await ops.get("/readyz")).status_code == 200

            await eventually(ready, timeout=30, message="ready on the ops port")
            assert (await ops.get("/healthz")).json() == {"status": "ok", "service": "opskit"}
            assert "service_dependency_up" in (await ops.get("/metrics")).text
            for path in ("/healthz", "/readyz", "/metrics"):
                answer = await api.get(path)
                assert answer.status_code == 404, (path, answer.text)
            # the ops port serves nothing else
            assert (await ops.get("/docs")).status_code == 404


async def test_api_docs_only_where_the_setting_allows(isolation: dict[str, Any]) -> None:
    for overrides, served in (({}, True), ({"api_docs": False}, False)):
        rt = ServiceRuntime(ServiceSettings(service_name="docskit", **isolation, **overrides))
        app = rt.create_app()
        async with running(app, ready_timeout=30) as client:
            for path in ("/docs", "/openapi.json"):
                assert ((await client.get(path)).status_code == 200) is served, (path, overrides)
    production = ServiceSettings(
        environment="production", rabbitmq_url="amqp://mi:x@127.0.0.1:5672/"
    )
    assert production.api_docs_enabled is False


async def test_a_shared_dependency_down_is_reported_but_the_replica_stays_ready(
    isolation: dict[str, Any],
) -> None:
    rt = ServiceRuntime(ServiceSettings(service_name="depkit", **isolation))

    async def redis_down() -> bool:
        return False

    rt.dependency_checks["redis"] = redis_down
    app = rt.create_app()
    async with running(app, ready_timeout=30) as client:
        answer = await client.get("/readyz")
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["redis"] is False
        assert "redis" not in answer.json()["gating"]
        gauge = {"service": "depkit", "dependency": "redis"}
        assert REGISTRY.get_sample_value("service_dependency_up", gauge) == 0
        assert (
            REGISTRY.get_sample_value(
                "service_dependency_up", {"service": "depkit", "dependency": "mongo"}
            )
            == 1
        )


async def test_readyz_answers_inside_the_probe_timeout_while_every_check_hangs(
    isolation: dict[str, Any],
) -> None:
    rt = ServiceRuntime(
        ServiceSettings(service_name="slowkit", readiness_check_seconds=1.0, **isolation)
    )
    hang = asyncio.Event()  # never set

    async def hangs() -> bool:
        await hang.wait()
        return True

    app = rt.create_app()
    async with running(app, ready_timeout=30) as client:
        # four dependencies and an informational check that hang: one after the other
        # they would take 5 s, past the probe's 3 s timeout
        for name in ("storage", "search", "cache", "model"):
            rt.dependency_checks[name] = hangs
        rt.informational_checks["sandbox"] = hangs
        answer = await asyncio.wait_for(client.get("/readyz"), PROBE_TIMEOUT_SECONDS)
        assert answer.status_code == 200
        assert answer.json()["checks"]["storage"] is False
        assert answer.json()["degraded_without"] == {"sandbox": False}

        # the replica's own part hanging does take it out, as fast
        rt.readiness_checks["mail_sender"] = hangs
        answer = await asyncio.wait_for(client.get("/readyz"), PROBE_TIMEOUT_SECONDS)
        assert answer.status_code == 503
        assert answer.json()["checks"]["mail_sender"] is False
