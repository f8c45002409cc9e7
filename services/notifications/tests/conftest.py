"""In-process notifications on the real broker and Mongo-wire server, mailing a real SMTP
server (aiosmtpd) started for each test."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from notifications.main import create_app
from notifications.settings import Settings
from servicekit.testing import TokenMint, running

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notificationstest import Harness, SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def replicas() -> int:
    return 1


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def harness(
    isolation: dict[str, Any], smtp: SmtpServer, replicas: int, settings_overrides: dict[str, Any]
) -> AsyncIterator[Harness]:
    settings = Settings(
        **isolation,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout_seconds=5,
        mail_poll_seconds=0.05,
        mail_retry_base_seconds=0.05,
        mail_retry_max_seconds=0.2,
        mail_max_attempts=200,
    ).model_copy(update=settings_overrides)
    mint = TokenMint()
    apps = [create_app(settings) for _ in range(replicas)]
    for app in apps:
        app.state.verifier = mint.verifier()
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(running(app, ready_timeout=60)) for app in apps]
        yield Harness(apps, smtp, clients, mint)
