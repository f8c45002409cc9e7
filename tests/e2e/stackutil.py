"""Helpers for the e2e tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def delete_queues_with_prefix(prefix: str, rabbitmq_url: str | None = None) -> None:
    """Delete the queues a stack declared: listed once by `rabbitmqctl`, deleted over one AMQP
    connection (a `rabbitmqctl delete_queue` per queue starts an Erlang VM each time: about
    20 s for a stack's forty-odd queues)."""
    try:
        listing = subprocess.run(
            ["rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return  # leftovers are harmless: prefixed names are never reused
    names = [name for name in listing.split() if name.startswith(prefix)]
    if names:
        url = rabbitmq_url or os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
        asyncio.run(_delete_queues(url, names))


async def _delete_queues(url: str, names: list[str]) -> None:
    import aio_pika

    try:
        connection = await aio_pika.connect(url, timeout=10)
    except Exception:
        return
    async with connection:
        channel = await connection.channel()
        for name in names:
            try:
                await channel.queue_delete(name)
            except Exception:
                channel = await connection.channel()


def wait_for(probe: Callable[[], Any], timeout: float = 30.0, message: str = "condition") -> Any:
    """Poll `probe` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{message} not met within {timeout}s (last: {last!r})")
