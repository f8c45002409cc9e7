"""In-process interviews app on the real broker and Mongo-wire server, with tokens from a
test key and an adjustable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from contracts import DomainEvent, EventEnvelope, SessionReady
from interviews.main import create_app
from interviews.settings import Settings
from servicekit.testing import FakeClock, TokenMint, eventually, put_on_bus, running


@dataclass
class Harness:
    app: Any
    client: httpx.AsyncClient
    mint: TokenMint
    clock: FakeClock

    @property
    def rt(self) -> Any:
        return self.app.state.runtime

    def auth(self, user_id: str, role: str = "user") -> dict[str, str]:
        return self.mint.headers(user_id, role)

    async def publish(
        self,
        event: DomainEvent,
        aggregate_id: str,
        version: int = 1,
        envelope: EventEnvelope | None = None,
    ) -> EventEnvelope:
        """Put an event on the bus as its producing service would."""
        envelope = envelope or EventEnvelope.wrap(
            event,
            producer="ai-runner",
            aggregate_type="ai-job",
            aggregate_id=aggregate_id,
            aggregate_version=version,
        )
        await put_on_bus(self.rt, envelope)
        return envelope

    async def start(self, user_id: str, kind: str = "coding", **extra: Any) -> httpx.Response:
        return await self.client.post(
            "/interviews", json={"type": kind, **extra}, headers=self.auth(user_id)
        )

    async def wait_status(self, user_id: str, session_id: str, status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            response = await self.client.get(
                f"/interviews/{session_id}", headers=self.auth(user_id)
            )
            body: dict[str, Any] = response.json()
            return body if body.get("status") == status else None

        return await eventually(probe, message=f"session {status}")

    async def make_ready(self, user_id: str, session_id: str) -> dict[str, Any]:
        """The AI runner's SessionReady, as it would publish it."""
        await self.publish(
            SessionReady(
                session_id=session_id,
                user_id=user_id,
                introduction="Hello",
                ready_at=datetime.now(UTC),
            ),
            session_id,
        )
        return await self.wait_status(user_id, session_id, "ready")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def harness(
    isolation: dict[str, Any], mint: TokenMint, clock: FakeClock
) -> AsyncIterator[Harness]:
    app = create_app(Settings(**isolation), clock=clock)
    app.state.verifier = mint.verifier()
    async with running(app, ready_timeout=60) as client:
        yield Harness(app, client, mint, clock)


@pytest.fixture
async def harness_on_own_server(
    isolation: dict[str, Any], private_mongo_uri: str, mint: TokenMint, clock: FakeClock
) -> AsyncIterator[Harness]:
    """The harness on a Mongo-wire server of its own (servicekit.testing.private_mongo_uri):
    for the test that storms the quota with fifty conflicting transactions."""
    app = create_app(Settings(**isolation | {"mongo_uri": private_mongo_uri}), clock=clock)
    app.state.verifier = mint.verifier()
    async with running(app, ready_timeout=60) as client:
        yield Harness(app, client, mint, clock)
