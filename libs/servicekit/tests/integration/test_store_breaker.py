"""A service whose Mongo-wire server hangs (frozen with SIGSTOP, as the secantusdb hang looks
from outside): the first requests wait for the socket timeout and answer 503; once the
breaker has seen the store time out repeatedly, requests are answered 503 at once, without
waiting; when the server runs again, requests are served again by themselves."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from servicekit.metrics import REGISTRY
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings
from servicekit.testing import eventually, own_mongo_process, running

SOCKET_TIMEOUT_MS = 2000


async def test_requests_to_a_hung_store_are_refused_at_once_then_served_again(
    isolation: dict[str, Any],
) -> None:
    with own_mongo_process() as (uri, server):
        settings = ServiceSettings(
            service_name="kit",
            **(
                isolation
                | {
                    "mongo_uri": uri,
                    "mongo_socket_timeout_ms": SOCKET_TIMEOUT_MS,
                    "store_breaker_timeouts": 2,
                    "store_breaker_open_seconds": 5.0,
                }
            ),
        )
        rt = ServiceRuntime(settings)
        app = rt.create_app()

        @app.get("/things")
        async def things() -> dict[str, int]:
            return {"count": await rt.db["things"].count_documents({})}

        def breaker_open() -> float | None:
            return REGISTRY.get_sample_value("store_breaker_open", {"service": "kit"})

        async with running(app) as client:
            assert (await client.get("/things")).status_code == 200
            os.kill(server.pid, signal.SIGSTOP)
            try:
                # the first requests (and the background loops' commands) wait out the timeout
                first = await client.get("/things")
                assert first.status_code == 503
                assert first.json()["code"] == "database_unavailable"

                async def refused_at_once() -> bool:
                    started = time.monotonic()
                    r = await client.get("/things")
                    waited = time.monotonic() - started
                    # not "fast enough" but "did not wait for the store": well inside the timeout
                    return r.status_code == 503 and waited < SOCKET_TIMEOUT_MS / 1000 / 2

                await eventually(refused_at_once, timeout=30, message="refused without waiting")
                assert breaker_open() == 1
                refused = await client.get("/things")
                assert refused.status_code == 503
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.headers["retry-after"] == "5"
                assert refused.json()["code"] == "database_unavailable"
            finally:
                os.kill(server.pid, signal.SIGCONT)

            async def served() -> bool:
                return (await client.get("/things")).status_code == 200

            await eventually(served, timeout=30, message="served again once the store answers")
            assert breaker_open() == 0
