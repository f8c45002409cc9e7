"""The broker connection dropping under a running service: readiness tells the truth while
it is gone, and the consumers come back by themselves."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servicekit.testing import eventually, running

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_eventkit import effect, increment, make_runtime

pytestmark = pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None,
    reason="needs rabbitmqctl on this machine to cut connections",
)


def close_connections_named(fragment: str) -> int:
    """Have the broker itself close our connection, as a broker restart would."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    closed = 0
    for line in listing.splitlines():
        if fragment in line:
            pid = line.split("\t", 1)[0]
            subprocess.run(
                ["rabbitmqctl", "close_connection", pid, "test: simulated broker restart"],
                capture_output=True,
                timeout=60,
                check=True,
            )
            closed += 1
    return closed


async def test_consumers_reattach_after_the_broker_drops_the_connection(
    isolation: dict[str, Any],
) -> None:
    # a 3 s reconnect delay keeps the outage observable even on a loaded machine
    rt, _ = make_runtime(isolation, rabbitmq_reconnect_seconds=3.0)
    app = rt.create_app()
    async with running(app) as client:
        await increment(rt, "before", 1)
        await eventually(lambda: effect(rt, "before"), message="consumed before the drop")

        states: list[dict[str, Any]] = []
        stop = asyncio.Event()

        async def watch_readiness() -> None:
            while not stop.is_set():
                response = await client.get("/readyz")
                states.append({**response.json(), "http": response.status_code})
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch_readiness())
        closed = await asyncio.to_thread(close_connections_named, rt.settings.queue_prefix + "kit@")
        assert closed == 1

        async def not_ready_seen() -> bool:
            return any(s["http"] == 503 for s in states)

        await eventually(
            not_ready_seen,
            timeout=10,
            interval=0.02,
            message="/readyz reported the lost connection",
        )

        async def ready_again() -> bool:
            return bool(states) and states[-1]["http"] == 200

        await eventually(ready_again, timeout=30, message="consumers reattached")
        stop.set()
        await watcher
        down = next(s for s in states if s["http"] == 503)
        assert down["checks"]["rabbitmq"] is False or down["checks"]["consumers"] is False

        # events appended after the reconnect are published and consumed again
        await increment(rt, "after", 1)
        await eventually(
            lambda: effect(rt, "after"), timeout=20, message="consumed after reconnect"
        )
