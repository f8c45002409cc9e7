"""Helpers for the e2e tests."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

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


SIGNUP_PASSWORD = "Interview-flow-77"


def signup(
    stack: Any, ip: str = "127.0.0.1", name: str = "Grace", password: str = SIGNUP_PASSWORD
) -> tuple[str, dict[str, str]]:
    """A new account through the gateway, from `ip` (each test its own, so per-IP limits do
    not meet): its id and the Authorization header of a fresh login."""
    transport = httpx.HTTPTransport(local_address=ip)
    with httpx.Client(base_url=stack.gateway_url, timeout=15, transport=transport) as client:
        address = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
        user = client.post(
            "/auth/register", json={"name": name, "email": address, "password": password}
        )
        assert user.status_code == 201, user.text
        login = client.post("/auth/login", json={"email": address, "password": password})
        assert login.status_code == 200, login.text
    return user.json()["id"], {"authorization": f"Bearer {login.json()['access_token']}"}


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


def mails(mail_dir: str | Path, address: str, kind: str | None = None) -> list[EmailMessage]:
    """The mail the stack's SMTP catcher kept for `address` (of `kind`), oldest first."""
    found = []
    for path in sorted(Path(mail_dir).glob("*.eml"), key=lambda p: (p.stat().st_mtime, p.name)):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]) and (kind is None or message["X-Mail-Kind"] == kind):
            found.append(message)  # type: ignore[arg-type]
    return found


def mailed(mail_dir: str | Path, address: str, kind: str, timeout: float = 30) -> EmailMessage:
    """The newest mail of `kind` to `address`, waiting for it to arrive."""
    found: list[EmailMessage] = wait_for(
        lambda: mails(mail_dir, address, kind), timeout, f"{kind} mail to {address}"
    )
    return found[-1]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, message
    return str(body.get_content())


def metric(base_url: str, name: str, **labels: str) -> float:
    """One sample of a service's /metrics (0 when it has none yet)."""
    import httpx

    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


LOG_LEVELS = ("warning", "error", "critical", "exception")


class LogWatch:
    """Warnings and errors a stack's processes log after `mark()` (the benches fail a
    measured phase on them: a path that degrades still answers, but is not the one meant)."""

    def __init__(self, logs: Mapping[str, Path]) -> None:
        self.logs = dict(logs)
        self.offsets: dict[str, int] = {}

    def mark(self) -> None:
        self.offsets = {name: _size(path) for name, path in self.logs.items()}

    def problems(self) -> dict[str, tuple[int, str]]:
        """Per process: how many problem lines since the mark, and the first of them."""
        found: dict[str, tuple[int, str]] = {}
        for name, path in self.logs.items():
            try:
                with path.open("rb") as log:
                    log.seek(self.offsets.get(name, 0))
                    text = log.read().decode("utf-8", "replace")
            except OSError:
                continue
            bad = [line for line in text.splitlines() if _is_problem(line)]
            if bad:
                found[name] = (len(bad), bad[0][:300])
        return found


def _is_problem(line: str) -> bool:
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            return str(json.loads(line).get("level", "")).lower() in LOG_LEVELS
    return line.startswith(("Traceback", "WARNING", "ERROR", "CRITICAL"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
