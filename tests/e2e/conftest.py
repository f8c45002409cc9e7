"""The whole platform as processes (scripts/devstack.py), isolated per test module: its own
exchange, queue prefix and databases, on the session's Mongo-wire server."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from devstack import Stack  # noqa: E402
from query_audit import audit  # noqa: E402
from stackutil import delete_queues_with_prefix  # noqa: E402


@pytest.fixture(scope="module")
def isolated_env() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "EVENTS_EXCHANGE": f"mi.events.e2e{tag}",
        "QUEUE_PREFIX": f"e2e{tag}.",
        "MONGO_DB_PREFIX": f"e2e{tag}_",
        "REDIS_KEY_PREFIX": f"e2e{tag}:",
        "OUTBOX_POLL_SECONDS": "0.1",
        # short windows so throttling and its end are observable within a test
        "RATE_LIMIT_LOGIN_IP": "10/10",
        # a cell every 4 s: the brute-force test reads "still cooling down" from a second IP
        # right after 30 attempts, which must hold even when a busy machine slows logins
        "RATE_LIMIT_LOGIN_ACCOUNT": "5/20",
        "RATE_LIMIT_REGISTER_IP": "5/10",
        "RATE_LIMIT_RUN": "4/60",
        "ADMIN_EMAILS": "root@example.com",
        # the fuzzing test plays many clients through X-Forwarded-For from 127.0.0.1 only
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "ENVIRONMENT": "test",
    }


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    mongo_uri: str,
    rabbitmq_url: str,
    redis_url: str,
    isolated_env: dict[str, str],
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    queries = data_dir / "queries"
    env = isolated_env | {
        "RABBITMQ_URL": rabbitmq_url,
        "REDIS_URL": redis_url,
        # every distinct query shape the services send, checked against the indexes below
        "MONGO_QUERY_LOG": str(queries),
    }
    # a Mongo-wire server per stack (its own process, under data_dir) unless MONGO_URI is set:
    # secantusdb can be left pinning its cache by a storm of conflicting transactions (the
    # fifty simultaneous starts) and then hang whatever else shares it
    platform = Stack(data_dir, ports="auto", env=env, mongo_uri=os.environ.get("MONGO_URI"))
    platform.start(timeout=90)
    try:
        yield platform
        if queries.exists():
            audit(queries, platform.mongo_uri)
    finally:
        platform.stop()
        delete_queues_with_prefix(isolated_env["QUEUE_PREFIX"], rabbitmq_url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The index audit judges every stack that ran before it: it goes last."""
    last = [
        item
        for item in items
        if item.nodeid.endswith(
            "test_query_indexes.py::test_every_query_the_journeys_sent_starts_from_an_index"
        )
    ]
    for item in last:
        items.remove(item)
        items.append(item)
