"""What a bench that starts its own stack leaves behind, cleared: its queues (leftover quorum
queues have wedged the shared broker before), its exchange and its Redis keys."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Mapping

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
LIST_QUEUES = ("rabbitmqctl", "list_queues", "-q", "--no-table-headers")


def clean_broker_and_redis(env: Mapping[str, str]) -> None:
    """Delete our queues and exchange (names listed by rabbitmqctl, deleted over AMQP) and
    our Redis keys."""
    queues: list[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(
            [*LIST_QUEUES, "name"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        queues = [q for q in listing.split() if q.startswith(env["QUEUE_PREFIX"])]
    with contextlib.suppress(Exception):
        from servicekit.testing import delete_test_topology

        asyncio.run(
            asyncio.wait_for(
                delete_test_topology(
                    RABBITMQ_URL, env["QUEUE_PREFIX"], queues, env["EVENTS_EXCHANGE"]
                ),
                timeout=20,
            )
        )
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        keys = list(client.scan_iter(match=env["REDIS_KEY_PREFIX"] + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
