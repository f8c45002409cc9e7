"""The broker connection dropping under a running service: /readyz and
service_dependency_up tell the truth while it is gone, the replica stays ready (the broker is
shared: taking every replica out of its Service would not bring it back), and the consumers
come back by themselves."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servicekit.metrics import REGISTRY
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
                gauges = {
                    dep: REGISTRY.get_sample_value(
                        "service_dependency_up", {"service": "kit", "dependency": dep}
                    )
                    for dep in ("rabbitmq", "consumers")
                }
                states.append({**response.json(), "http": response.status_code, "up": gauges})
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch_readiness())
        closed = await asyncio.to_thread(close_connections_named, rt.settings.queue_prefix + "kit@")
        assert closed == 1

        def lost(state: dict[str, Any]) -> bool:
            return state["checks"]["rabbitmq"] is False or state["checks"]["consumers"] is False

        async def loss_seen() -> bool:
            return any(lost(s) for s in states)

        await eventually(
            loss_seen, timeout=10, interval=0.02, message="/readyz reported the lost connection"
        )
        # the gauges the DependencyDown alert reads went to 0 with it (set by the same check)
        assert any(
            s["up"][dep] == 0 for s in states if lost(s) for dep in ("rabbitmq", "consumers")
        )

        async def attached_again() -> bool:
            return bool(states) and not lost(states[-1])

        await eventually(attached_again, timeout=30, message="consumers reattached")
        stop.set()
        await watcher
        # ready all along: readiness is this replica's own state, the broker is shared
        assert {s["http"] for s in states} == {200}, [s for s in states if s["http"] != 200][:1]
        assert states[-1]["up"] == {"rabbitmq": 1, "consumers": 1}

        # events appended after the reconnect are published and consumed again
        await increment(rt, "after", 1)
        await eventually(
            lambda: effect(rt, "after"), timeout=20, message="consumed after reconnect"
        )
