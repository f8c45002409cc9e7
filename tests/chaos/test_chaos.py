"""The reduced fault-injection run inside `make test` (`make chaos` runs every scenario):
under a steady load of simulated users, interviews and then the AI runner are killed with
SIGKILL while their second replicas run, and restarted, then the stack's own RabbitMQ node is
restarted. Afterwards no session is stuck, quota, scoring, payments and mail each happened
once, every outbox drained, nothing waits parked; while interviews was down the gateway
answered a problem+json 503 instead of hanging, and while the broker was down every service's
/readyz said so (and said it was back, consumers attached, after). The machine's shared
RabbitMQ and Redis are not used at all: the stack runs on servers of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import format_table
from suite import Platform, platform, readyz_names, reduced, run_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def chaos_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # stops every process it started, and fails the teardown if one is left behind
    with platform(Path(tmp_path_factory.mktemp("chaos"))) as running:
        yield running


def test_sessions_quota_payments_and_mail_survive_killed_consumers_and_a_broker_restart(
    chaos_platform: Platform,
) -> None:
    row = run_scenario(chaos_platform, reduced(), users=3)
    table = format_table([row])
    print("\n" + table)
    assert row["completed"] > 0, table  # the load did go through
    assert "rabbitmq back in" in row["scenario"], table  # the restart was seen, and recovered
    assert row["held"], table
    # and the /readyz check is not one that always passes: the broker is up now
    said = readyz_names(chaos_platform.stack, "rabbitmq", down=True, timeout=0)
    assert not said["ok"], said
