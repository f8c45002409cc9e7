"""pytest plugin shared by every test suite: a real Mongo-wire server (secantusdb, started
for the session when MONGO_URI is unset), the real RabbitMQ, isolated names per test, and a
way to run a service's lifespan in-process; and helpers tests share (an adjustable clock,
token minting, waiting on a condition).

Enable with `pytest_plugins = ["servicekit.testing"]` in a conftest.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import aio_pika
import httpx
import pytest
from contracts import EventEnvelope
from fastapi import FastAPI

T = TypeVar("T")

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class FakeClock:
    """A clock a test moves by hand: give it to an app as its `now` and call `advance`."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by a timedelta's keywords: `clock.advance(days=7, seconds=1)`."""
        self.now += timedelta(**delta)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    message: str = "condition not met",
) -> T:
    """Poll `probe` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last  # type: ignore[no-any-return]
        await asyncio.sleep(interval)
    raise AssertionError(f"{message} within {timeout}s (last value: {last!r})")


@contextmanager
def own_mongo_server() -> Iterator[str]:
    """A secantusdb server of our own (through servicekit.devmongo) for as long as the block."""
    with own_mongo_process() as (uri, _):
        yield uri


@contextmanager
def own_mongo_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`own_mongo_server`, with its process too (to freeze it: a hung server)."""
    port = free_port()
    storage = tempfile.mkdtemp(prefix="mi-mongo-")
    log_path = Path(storage) / "server.log"
    log_file = open(log_path, "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "servicekit.devmongo",  # secantusdb, reaping abandoned transactions sooner
            "--port",
            str(port),
            "--storage-path",
            storage + "/db",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"secantusdb exited: {log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), 0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("secantusdb did not start within 30s")
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true", proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log_file.close()
        shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """MONGO_URI if set, otherwise a secantusdb server of our own for the whole session."""
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    with own_mongo_server() as uri:
        os.environ["MI_TEST_MONGO_URI"] = uri
        yield uri


@pytest.fixture
def private_mongo_uri() -> Iterator[str]:
    """MONGO_URI if set, otherwise a secantusdb server for this test alone: for tests that
    storm it with conflicting transactions. secantusdb (0.7.0b3) can be left pinning its
    cache after such a storm and later hang everything else on the same server; MongoDB is
    not affected, so with MONGO_URI set the shared server is used."""
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    with own_mongo_server() as uri:
        yield uri


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    url = os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)
    if not _reachable(url, 5672):
        pytest.fail(
            f"RabbitMQ is not reachable at {url}: start it with `rabbitmq-server -detached`"
        )
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if not _reachable(url, 6379):
        pytest.fail(
            f"Redis is not reachable at {url}: start it with "
            '`redis-server --daemonize yes --port 6379 --save "" --appendonly no`'
        )
    return url


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def isolation(mongo_uri: str, rabbitmq_url: str, unique: str, tmp_path: Path) -> dict[str, Any]:
    """Settings overrides that give a test its own database, exchange and queues."""
    return {
        "mongo_uri": mongo_uri,
        "mongo_db": f"t_{unique}",
        "rabbitmq_url": rabbitmq_url,
        "events_exchange": f"mi.events.t{unique}",
        "queue_prefix": f"t{unique}.",
        "redis_key_prefix": f"t{unique}:",
        "data_dir": tmp_path,
        "outbox_poll_seconds": 0.05,
        "log_json": True,
        "gc_freeze": False,
    }


async def delete_test_topology(
    rabbitmq_url: str, prefix: str, queues: list[str], exchange: str
) -> None:
    """Remove the queues and exchange a test declared, so runs do not pile them up."""
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        for name in queues:
            channel = await connection.channel()
            try:
                await channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - already gone
                pass
        channel = await connection.channel()
        try:
            await channel.exchange_delete(exchange)
        except Exception:  # noqa: BLE001
            pass


@asynccontextmanager
async def running(app: FastAPI, ready_timeout: float = 20.0) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan in this event loop and yield an HTTP client bound to it, once
    `/readyz` says ready. Queues the app declared are deleted afterwards."""
    rt = app.state.runtime
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=ready_timeout, message=f"{rt.name} ready")
            try:
                yield client
            finally:
                queues = [c.queue_name for c in rt.consumers.consumers]
                queues += [c.parked_queue_name for c in rt.consumers.consumers]
                rt._cleanup_queues = queues  # read after shutdown
    if rt.settings.queue_prefix:
        queues = getattr(rt, "_cleanup_queues", [])
        await delete_test_topology(
            rt.settings.rabbitmq_url, rt.settings.queue_prefix, queues, rt.settings.events_exchange
        )


async def put_on_bus(rt: Any, envelope: EventEnvelope) -> EventEnvelope:
    """Publish `envelope` on `rt`'s exchange the way an outbox relay does (persistent,
    mandatory, the event id as message id): what a test uses to play another service."""
    await rt.broker.publish(
        envelope.model_dump_json().encode(),
        exchange=rt.exchange,
        routing_key=envelope.event_type,
        mandatory=True,
        persist=True,
        message_id=str(envelope.event_id),
    )
    return envelope


class TokenMint:
    """Signs access tokens the way auth does, with a key of its own, for in-process tests of
    services that verify tokens (give their app `verifier()`)."""

    def __init__(
        self, issuer: str = "mock-interview-auth", audience: str = "mock-interview"
    ) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.issuer = issuer
        self.audience = audience
        self.key = Ed25519PrivateKey.generate()
        self.kid = "test-" + uuid.uuid4().hex[:8]

    def jwks(self) -> dict[str, Any]:
        import base64

        from cryptography.hazmat.primitives import serialization

        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA"}]}

    def verifier(self) -> Any:
        from servicekit.identity import JwksVerifier

        return JwksVerifier(None, self.issuer, self.audience, jwks=self.jwks())

    def token(self, user_id: str, role: str = "user", ttl: int = 900) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, user_id: str, role: str = "user") -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(user_id, role)}"}


@pytest.fixture
def mint() -> TokenMint:
    return TokenMint()


def hidden_test_secrets(question: Any) -> list[str]:
    """What of a coding question's hidden tests must never reach a candidate: each hidden
    test's input and expected value as JSON (compact and spaced), for the values distinctive
    enough to search for (5+ characters, and not also shown in the prompt or an example)."""
    import json

    data = question.model_dump(mode="json") if hasattr(question, "model_dump") else question
    tests = data.get("tests") or []
    examples = [[t["input"], t["expected"]] for t in tests if t.get("visible")]
    shown = (
        data.get("prompt", "") + json.dumps(examples) + json.dumps(examples, separators=(",", ":"))
    )
    secrets: set[str] = set()
    for test in tests:
        if test.get("visible"):
            continue
        for value in (test["input"], test["expected"]):
            for text in (json.dumps(value, separators=(",", ":")), json.dumps(value)):
                if len(text) >= 5 and text not in shown and text.strip('"') not in shown:
                    secrets.add(text)
    return sorted(secrets)


def assert_no_hidden_tests(payload: str | bytes, questions: list[Any], where: str) -> None:
    """Fail if `payload` carries any hidden test input or expected value of `questions`."""
    import json

    text = payload.decode() if isinstance(payload, bytes) else payload
    # compare on one spelling: the payload may be pretty-printed or escaped differently
    compact = text
    try:
        compact = json.dumps(json.loads(text), separators=(",", ":"))
    except ValueError:
        pass
    import re

    def carried(secret: str) -> bool:
        if secret not in compact and secret not in text:
            return False  # the plain search first: most secrets are nowhere near
        # as a whole token: 10000 inside a timestamp's "12.100000" is not the hidden value
        token = re.compile(rf"(?<![\w.]){re.escape(secret)}(?![\w.])")
        return bool(token.search(compact) or token.search(text))

    found = [s for q in questions for s in hidden_test_secrets(q) if carried(s)]
    assert not found, f"{where} leaks hidden tests: {found[:5]}"


# -- the two tiers --------------------------------------------------------------------------

SERVER_FIXTURES = frozenset(
    {"isolation", "mongo_uri", "private_mongo_uri", "rabbitmq_url", "redis_url", "stack"}
)
"""A test that asks for one of these talks to a real server: an integration test."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: in memory, no servers (marked from its fixtures)")
    config.addinivalue_line(
        "markers", "integration: real RabbitMQ, Redis or Mongo-wire (marked from its fixtures)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test `unit` or `integration` from the fixtures it uses (`pytest -m unit`
    runs the first tier alone). Tests live in `tests/unit/` (in memory, no servers) and
    `tests/integration/` (real broker and store); the marker comes from the fixtures, and a
    test in a `unit/` folder that asks for a server is refused, so a folder cannot lie."""
    misplaced = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        tier = (
            "integration"
            if fixtures & SERVER_FIXTURES or item.get_closest_marker("e2e")
            else "unit"
        )
        item.add_marker(tier)
        if tier == "integration" and item.path.parent.name == "unit":
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(
            "tests in a unit/ folder that use a server fixture (move them to integration/): "
            + ", ".join(misplaced)
        )
