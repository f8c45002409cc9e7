"""docker compose's broker users, for real: deploy/rabbitmq/definitions.json rendered by the
very command the broker container runs (docker-compose.yml) and loaded at boot into a private,
throwaway RabbitMQ node of this test's own (own node name, ports, data and log directories,
no plugins; the shared broker on 5672 is never touched). Then every service starts as itself
against it - its own user, the production queue names (no test prefix) - and must be ready with
its consumers attached; the guest account does not exist; and a service's user is refused
another service's queues, and the default exchange (no publishing into a queue directly).

Without a broker: each service's permission regexes (servicekit.broker.broker_permissions)
against the exchange and queue names its code declares."""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
import pytest
import yaml
from servicekit.broker import DLX, UNROUTED, broker_permissions
from servicekit.testing import free_port, running

REPO = Path(__file__).resolve().parents[2]
DEFINITIONS = REPO / "deploy" / "rabbitmq" / "definitions.json"
CONF = REPO / "deploy" / "rabbitmq" / "rabbitmq.conf"
SERVICES = ["ai-runner", "auth", "billing", "gateway", "interviews", "notifications"]
PACKAGES = {"ai-runner": "ai_runner"}


def build_app(service: str, **overrides: Any) -> Any:
    package = PACKAGES.get(service, service)
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    create_app = importlib.import_module(f"{package}.main").create_app
    return create_app(settings_cls(**{"gc_freeze": False, "log_json": True, **overrides}))


def declared_names(app: Any) -> tuple[set[str], set[str]]:
    """(queues, exchanges) a service's code declares: its consumers' queues and their parked
    twins, the events exchange, the DLX and the unrouted queue and exchange."""
    rt = app.state.runtime
    queues = {UNROUTED}
    for consumer in rt.consumers.consumers:
        queues.add(consumer.queue_name)
        if not consumer.broadcast:
            queues.add(consumer.parked_queue_name)
    return queues, {rt.exchange.name, DLX, UNROUTED}


def test_each_services_permissions_cover_its_own_names_and_no_other_services(
    tmp_path: Path,
) -> None:
    names = {s: declared_names(build_app(s, data_dir=tmp_path)) for s in SERVICES}
    assert all(build_app(s, data_dir=tmp_path).state.runtime.name == s for s in SERVICES)
    assert sum(len(q) for q, _ in names.values()) > 20  # the services really consume events
    for service, (queues, exchanges) in names.items():
        own = broker_permissions(service)
        for name in queues | exchanges:
            for kind in ("configure", "write", "read"):
                assert re.fullmatch(own[kind], name), (service, kind, name)
        for other, (other_queues, _) in names.items():
            if other == service:
                continue
            for name in other_queues - {UNROUTED}:
                assert not re.fullmatch(own["read"], name), (service, "reads", name)
                assert not re.fullmatch(own["configure"], name), (service, "configures", name)
        # nobody publishes straight into a queue through the default exchange
        assert not re.fullmatch(own["write"], "amq.default")


# ------------------------------------------------------------------- a private broker node


def render_definitions(target: Path, env: dict[str, str]) -> None:
    """The broker container's own rendering step, taken from docker-compose.yml (up to the
    chown, which needs the container's rabbitmq user), with its paths pointed here."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    script = compose["services"]["rabbitmq"]["command"][0]
    script = script[: script.index("chown")].replace("$$", "$")
    script = script.replace("/etc/mock-interview/definitions.json", str(DEFINITIONS))
    script = script.replace("/tmp/definitions.json", str(target))
    subprocess.run(["bash", "-ec", script], env={**os.environ, **env}, check=True, timeout=30)


@pytest.fixture(scope="module")
def broker() -> Iterator[dict[str, Any]]:
    server = shutil.which("rabbitmq-server", path="/usr/lib/rabbitmq/bin:" + os.environ["PATH"])
    assert server, "rabbitmq-server is needed (scripts/install-ops-tools.sh installs it)"
    work = Path(tempfile.mkdtemp(prefix="mi-rmq-"))
    passwords = {s: secrets.token_hex(16) for s in SERVICES}
    env = {f"RABBITMQ_PASSWORD_{s.upper().replace('-', '_')}": p for s, p in passwords.items()}
    env |= {"RABBITMQ_ADMIN_USER": "ops", "RABBITMQ_ADMIN_PASS": secrets.token_hex(16)}
    render_definitions(work / "definitions.json", env)
    port = free_port()
    conf = CONF.read_text().replace("/tmp/definitions.json", str(work / "definitions.json"))
    # as the image's conf.d/10-defaults.conf: guest (were it created) allowed from anywhere
    (work / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users.guest = false\n{conf}"
    )
    (work / "enabled_plugins").write_text("[].\n")  # no management or Prometheus listeners
    for sub in ("home", "mnesia", "log"):
        (work / sub).mkdir()
    node_env = {
        **os.environ,
        # the CLI tools themselves, not Debian's wrappers (which switch to the rabbitmq user,
        # and so to another Erlang cookie)
        "PATH": f"{Path(server).parent}:{os.environ['PATH']}",
        "HOME": str(work / "home"),  # its own Erlang cookie
        "RABBITMQ_NODENAME": f"mi-defs-{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(work / "mnesia"),
        "RABBITMQ_LOG_BASE": str(work / "log"),
        "RABBITMQ_CONFIG_FILE": str(work / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(work / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(work / "rabbitmq.pid"),
    }
    log = open(work / "server.out", "wb")
    proc = subprocess.Popen(
        [server], env=node_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError((work / "server.out").read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", port), 0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the private RabbitMQ node did not start in 90 s") from None
                time.sleep(0.2)
        yield {
            "env": node_env,
            "url": lambda user, password: f"amqp://{user}:{password}@127.0.0.1:{port}/",
            "passwords": passwords,
            "admin": ("ops", env["RABBITMQ_ADMIN_PASS"]),
            "log": work / "log",
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


async def test_there_is_no_guest_and_every_user_logs_in_with_its_env_password(
    broker: dict[str, Any],
) -> None:
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        await aio_pika.connect(broker["url"]("guest", "guest"), timeout=10)
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        await aio_pika.connect(broker["url"]("auth", broker["passwords"]["billing"]), timeout=10)
    for user, password in [*broker["passwords"].items(), broker["admin"]]:
        connection = await aio_pika.connect(broker["url"](user, password), timeout=10)
        await connection.close()


def test_the_brokers_healthcheck_fails_while_a_guest_account_exists(
    broker: dict[str, Any],
) -> None:
    """docker-compose.yml's own healthcheck command, against the node (the CLI tools find it
    by RABBITMQ_NODENAME and the cookie under HOME): healthy as the definitions leave it,
    unhealthy once someone (an old volume) has a guest."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    check = compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"

    def healthy() -> bool:
        done = subprocess.run(
            ["sh", "-c", check[1]], env=broker["env"], capture_output=True, timeout=60
        )
        return done.returncode == 0

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], env=broker["env"], check=True, timeout=60)

    assert healthy()
    ctl("add_user", "guest", "guest")
    try:
        assert not healthy()
    finally:
        ctl("delete_user", "guest")


async def test_every_service_starts_as_itself_and_cannot_touch_another_services_queues(
    broker: dict[str, Any], mongo_uri: str, tmp_path: Path
) -> None:
    url = broker["url"]
    started: dict[str, set[str]] = {}
    for service in SERVICES:
        app = build_app(
            service,
            mongo_uri=mongo_uri,
            mongo_db=f"t_{uuid.uuid4().hex[:10]}",
            rabbitmq_url=url(service, broker["passwords"][service]),
            data_dir=tmp_path / service,
        )
        # ready = its topology declared and every consumer attached, as its own user
        async with running(app, ready_timeout=30):
            started[service] = declared_names(app)[0]

    auth = await aio_pika.connect(url("auth", broker["passwords"]["auth"]), timeout=10)
    try:
        channel = await auth.channel(publisher_confirms=True)
        events = await channel.declare_exchange("mi.events", passive=True)
        await events.publish(aio_pika.Message(b"{}"), routing_key="auth.test")  # its own job
        theirs = sorted(q for q in started["interviews"] if q.startswith("interviews."))[0]
        for attempt in (
            # take its messages (a passive declare, only looking at it, is not checked)
            lambda ch: _take_one(ch, theirs),
            lambda ch: ch.declare_queue("interviews.main.Forged", durable=True),
            lambda ch: ch.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=theirs),
        ):
            channel = await auth.channel(publisher_confirms=True)
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                await asyncio.wait_for(attempt(channel), 10)
    finally:
        await auth.close()


async def _take_one(channel: Any, queue_name: str) -> Any:
    queue = await channel.declare_queue(queue_name, passive=True)
    return await queue.get(fail=False)
