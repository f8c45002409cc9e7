"""Helpers for notifications' tests: a real SMTP server (aiosmtpd) that keeps what it
received and can be stopped and started again on its port, and the harness around the
in-process app on the real broker and Mongo-wire server."""

from __future__ import annotations

import email
import email.policy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from contracts import (
    DomainEvent,
    EventEnvelope,
    SessionFailed,
    SessionScored,
    UserDeleted,
    UserRegistered,
)
from servicekit.metrics import REGISTRY
from servicekit.testing import TokenMint, eventually, free_port, put_on_bus


class _Keep:
    """aiosmtpd handler: keeps every message; refuses recipients in `refused` with a 550."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.refused: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A real SMTP server on a port of its own for the test."""

    port: int = field(default_factory=free_port)
    handler: _Keep = field(default_factory=_Keep)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.handler.messages if address in str(m["To"])]

    async def received(self, address: str, count: int = 1) -> list[EmailMessage]:
        async def arrived() -> list[EmailMessage]:
            found = self.to(address)
            return found if len(found) >= count else []

        return await eventually(arrived, message=f"{count} mail(s) to {address}")


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, message
    return text.get_content(), html.get_content()


def consumed(event_type: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "events_consumed_total",
        {
            "service": "notifications",
            "consumer": "main",
            "event_type": event_type,
            "outcome": outcome,
        },
    )
    return value or 0.0


@dataclass
class Harness:
    apps: list[Any]
    smtp: SmtpServer
    clients: list[httpx.AsyncClient]
    mint: TokenMint

    @property
    def http(self) -> httpx.AsyncClient:
        return self.clients[0]

    @property
    def rt(self) -> Any:
        return self.apps[0].state.runtime

    @property
    def db(self) -> Any:
        return self.rt.db

    async def publish(self, event: DomainEvent, aggregate_id: str) -> EventEnvelope:
        envelope = EventEnvelope.wrap(
            event, producer="test", aggregate_type="test", aggregate_id=aggregate_id,
            aggregate_version=1,
        )  # fmt: skip
        await put_on_bus(self.rt, envelope)
        return envelope

    async def publish_again(self, envelope: EventEnvelope) -> None:
        """The same event again (a relay that crashed before marking it sent, a replay)."""
        await put_on_bus(self.rt, envelope)

    async def register(self, name: str = "Ada Lovelace", refused: bool = False) -> tuple[str, str]:
        """A new user (auth's UserRegistered); `refused`: the SMTP server answers 550 to
        their address."""
        user_id = str(uuid.uuid4())
        address = f"u{uuid.uuid4().hex[:10]}@example.com"
        if refused:
            self.smtp.handler.refused.add(address)
        event = UserRegistered(
            user_id=user_id, email=address, name=name, registered_at=datetime.now(UTC)
        )
        await self.publish(event, user_id)
        return user_id, address

    async def delete(self, user_id: str) -> EventEnvelope:
        return await self.publish(
            UserDeleted(user_id=user_id, deleted_at=datetime.now(UTC)), user_id
        )

    def scored(self, user_id: str, score: int = 73) -> SessionScored:
        return SessionScored(
            session_id=str(uuid.uuid4()),
            user_id=user_id,
            overall_score=score,
            results=(),
            summary="Clear structure; quantify the impact next time.",
            scored_at=datetime.now(UTC),
        )

    def failed(self, user_id: str) -> SessionFailed:
        return SessionFailed(
            session_id=str(uuid.uuid4()),
            user_id=user_id,
            reason="The scoring model did not answer in time.",
            stage="scoring",
            failed_at=datetime.now(UTC),
        )

    async def delivery(self, envelope: EventEnvelope, purpose: str, **match: Any) -> Any:
        """Wait until the mail for (event, purpose) is recorded and matches `match`."""

        async def found() -> Any:
            doc = await self.db["deliveries"].find_one(
                {"event_id": str(envelope.event_id), "purpose": purpose}
            )
            if doc is None:
                return None
            for key, value in match.items():
                if callable(value):
                    if not value(doc.get(key)):
                        return None
                elif doc.get(key) != value:
                    return None
            return doc

        return await eventually(found, message=f"{purpose} delivery {match}")
