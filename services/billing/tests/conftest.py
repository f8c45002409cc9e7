"""In-process billing on the real broker and Mongo-wire server, with tokens from a test key,
an adjustable clock, and a listener on the bus for the events billing publishes."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiohttp import web
from billing.main import create_app
from billing.settings import Settings
from servicekit.testing import FakeClock, TokenMint, running

sys.path.insert(0, str(Path(__file__).resolve().parent))

from billingtest import SECRET, BusListener, FakeStripe, Harness


@pytest.fixture
def clock() -> FakeClock:
    # whole seconds: Stripe's events carry unix seconds, so a time that went through one
    # compares equal to the clock's
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


async def _listen(rabbitmq_url: str, exchange: str, bus: BusListener) -> Any:
    connection = await aio_pika.connect(rabbitmq_url)
    channel = await connection.channel()
    queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
    for event_type in ("PlanUpgraded", "PlanDowngraded", "PaymentFailed"):
        await queue.bind(exchange, routing_key=event_type)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            envelope = json.loads(message.body)
            bus.messages.append(envelope)

    await queue.consume(on_message)
    return connection


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    """A local server speaking Stripe's API wire format; billing uses it when a test's
    settings point `stripe_api_base` at `fake_stripe.url`."""
    fake = FakeStripe()
    app = web.Application()
    app.router.add_post("/v1/checkout/sessions", fake.create_session)
    app.router.add_get("/v1/checkout/sessions/{session}", fake.retrieve_session)
    app.router.add_post("/v1/checkout/sessions/{session}/expire", fake.expire_session)
    app.router.add_post("/v1/subscriptions/{sub}", fake.update_subscription)
    app.router.add_delete("/v1/subscriptions/{sub}", fake.cancel_subscription)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def harness(
    isolation: dict[str, Any],
    mint: TokenMint,
    clock: FakeClock,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Harness]:
    settings = Settings(**isolation, stripe_webhook_secret=SECRET, **settings_overrides)
    app = create_app(settings, clock=clock)
    app.state.verifier = mint.verifier()
    bus = BusListener()
    async with running(app, ready_timeout=60) as client:
        connection = await _listen(isolation["rabbitmq_url"], isolation["events_exchange"], bus)
        try:
            yield Harness(app, client, mint, clock, bus)
        finally:
            await connection.close()
