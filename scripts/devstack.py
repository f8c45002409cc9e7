"""Start the whole platform on this machine: behind `make run` and the e2e tests.

`Stack` starts a MongoDB-wire server (secantusdb) when no `MONGO_URI` is given, a local
SMTP catcher (mail kept as .eml files under `<data_dir>/mail`) when no `SMTP_HOST` is
given, then every service as its own uvicorn process in its own process group, and waits
until each one's `/readyz` answers 200. RabbitMQ and Redis are not started here: they are
checked with a TCP connect first, and when one is down the error says how to start it.

CLI:

    python scripts/devstack.py run      # data in .data/, gateway on http://127.0.0.1:8000
    python scripts/devstack.py check    # only check RabbitMQ and Redis are reachable

From tests:

    with Stack(tmp_path, ports="auto") as stack:
        httpx.get(f"{stack.gateway_url}/healthz")

Each process's output is written to `<data_dir>/logs/<name>.log`; with a `log_sink`
callable each line is also handed to it (the CLI prints them with a coloured prefix).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Literal, Self, TextIO
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    """One deployable as the launcher sees it: name, Python package, default port."""

    name: str
    module: str
    default_port: int


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("gateway", "gateway", 8000),
    ServiceSpec("auth", "auth", 8001),
    ServiceSpec("interviews", "interviews", 8002),
    ServiceSpec("ai-runner", "ai_runner", 8003),
    ServiceSpec("billing", "billing", 8004),
    ServiceSpec("notifications", "notifications", 8005),
)
SERVICE_NAMES: tuple[str, ...] = tuple(spec.name for spec in SERVICES)
MONGO = "mongo"
DEFAULT_MONGO_PORT = 27018
MAIL = "mail"
"""The local SMTP catcher (notifications.catcher): every mail the stack sends, as .eml files."""
DEFAULT_MAIL_PORT = 1025
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Where the gateway finds each upstream service.
UPSTREAM_URL_VARS: dict[str, str] = {
    "auth": "AUTH_URL",
    "interviews": "INTERVIEWS_URL",
    "ai-runner": "AI_RUNNER_URL",
    "billing": "BILLING_URL",
    "notifications": "NOTIFICATIONS_URL",
}
STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 40
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", ""})
_MONGO_LISTENING = re.compile(r"secantus listening on (\S+):(\d+)")
# Access-log lines of our own readiness polling: noise in a tail or on the terminal.
_PROBE_LINE = re.compile(r"GET /(readyz|healthz)\b")

LogSink = Callable[[str, str], None]
"""Receives `(process_name, line)` for every line a process writes (no newline)."""

Ports = Mapping[str, int] | Literal["auto"] | None


class StackError(RuntimeError):
    """The platform could not be started (or a process could not be restarted)."""


class DependencyUnavailable(StackError):
    """RabbitMQ or Redis is not reachable; the message says how to start it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n\n".join(problems))
        self.problems = problems


# ------------------------------------------------------------------ dependencies


@dataclass(frozen=True)
class _Dependency:
    label: str
    env_var: str
    default_url: str
    default_ports: Mapping[str, int]

    def url(self, env: Mapping[str, str]) -> str:
        return env.get(self.env_var) or self.default_url


_RABBITMQ = _Dependency(
    "RabbitMQ", "RABBITMQ_URL", DEFAULT_RABBITMQ_URL, {"amqp": 5672, "amqps": 5671}
)
_REDIS = _Dependency("Redis", "REDIS_URL", DEFAULT_REDIS_URL, {"redis": 6379, "rediss": 6379})


def _redact(url: str) -> str:
    """The URL with its password replaced, fit for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _endpoint(url: str, default_ports: Mapping[str, int]) -> tuple[str, int] | None:
    """`(host, port)` a URL points at, or None when it is not a TCP URL (e.g. unix://)."""
    parts = urlsplit(url)
    if parts.scheme not in default_ports:
        return None
    try:
        port = parts.port or default_ports[parts.scheme]
    except ValueError:
        return None
    return parts.hostname or "127.0.0.1", port


def tcp_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _how_to_start(dep: _Dependency, url: str, host: str, port: int) -> str:
    where = f"{host}:{port}"
    head = f"{dep.label} is not reachable at {where} ({dep.env_var}={_redact(url)})."
    if host not in LOCAL_HOSTS:
        return (
            f"{head}\nCheck that it is running and reachable from here, "
            f"or point {dep.env_var} elsewhere."
        )
    if dep is _RABBITMQ:
        node_port = "" if port == 5672 else f"RABBITMQ_NODE_PORT={port} "
        lines = [
            head,
            "Start it with one of:",
            f"    {node_port}rabbitmq-server -detached",
            "        (not installed? sudo apt-get install rabbitmq-server)",
            (
                f"    docker run -d --name mi-rabbitmq -p {port}:5672 -p 15672:15672 "
                "rabbitmq:4-management"
            ),
        ]
    else:
        lines = [
            head,
            "Start it with one of:",
            f'    redis-server --daemonize yes --port {port} --save "" --appendonly no',
            "        (not installed? sudo apt-get install redis-server)",
            f"    docker run -d --name mi-redis -p {port}:6379 redis:7-alpine",
        ]
    lines.append(f"or set {dep.env_var} to one that is running.")
    return "\n".join(lines)


def check_dependencies(env: Mapping[str, str] | None = None, timeout: float = 1.0) -> list[str]:
    """Problems with RabbitMQ and Redis (empty when both accept a TCP connection).

    Each problem is a paragraph that names the URL and says how to start the dependency.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    for dep in (_RABBITMQ, _REDIS):
        url = dep.url(env)
        endpoint = _endpoint(url, dep.default_ports)
        if endpoint is None:
            continue  # a unix socket or an unusual scheme: let the service report it
        host, port = endpoint
        if not tcp_reachable(host, port, timeout):
            problems.append(_how_to_start(dep, url, host, port))
    return problems


# -------------------------------------------------------------- ports and probes


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on right now (the OS picks them)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether binding host:port would fail the way a server's bind would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port left in TIME_WAIT is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


# A proxy from the environment must not sit between us and 127.0.0.1.
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, timeout: float = 1.0) -> tuple[int | None, str]:
    """`(status, short body or error)` of a GET; status None: nothing answered."""
    try:
        with _LOCAL_OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read(300).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(300).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))


def describe_exit(returncode: int) -> str:
    """'code 3' or 'signal SIGKILL' for a Popen return code."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


# --------------------------------------------------------------------- processes


@dataclass
class _Process:
    name: str
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = None
    log_offset: int = 0  # where this run's output starts in the (appended) log file

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()


def _kill_group(popen: subprocess.Popen[bytes], sig: int) -> None:
    # The child is a session leader, so its pid is its process group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


def _terminate(processes: Iterable[_Process], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM each process group, wait up to `grace` seconds, SIGKILL what is left."""
    running = [p.popen for p in processes if p.popen is not None]
    for popen in running:
        if popen.poll() is None:
            _kill_group(popen, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for popen in running:
        try:
            popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(popen, signal.SIGKILL)
            popen.wait()
        # Whatever the service started in its group (sandboxes, helpers) goes with it.
        _kill_group(popen, signal.SIGKILL)


def _read_tail(path: Path, offset: int, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(offset, size - 64 * 1024))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    kept = [line for line in text.splitlines() if not _PROBE_LINE.search(line)]
    return kept[-lines:]


# Strong references: a stack dropped without stop() must still be stopped at exit.
_live_stacks: set[Stack] = set()


@atexit.register
def _stop_forgotten_stacks() -> None:
    # A test that crashed before stop() must not leave servers holding ports.
    for stack in list(_live_stacks):
        with contextlib.suppress(Exception):
            stack.stop()


class Stack:
    """The platform as local processes: a Mongo-wire server, an SMTP catcher and the services.

    `ports` is None (the fixed defaults: gateway 8000 ... notifications 8005, mongo 27018,
    mail 1025), "auto" (free ports picked now, so URLs are known before `start`), or a mapping of
    service name (or "mongo", "mail") to port over the defaults, 0 meaning "pick a free one".
    `env` is added to the parent environment for every process. `mongo_uri` (or
    `MONGO_URI` in `env` or the environment) points at an existing MongoDB; otherwise a
    secantusdb server is started with its data under `<data_dir>/mongo`. Unless `SMTP_HOST`
    is set, an SMTP catcher keeps the notifications service's mail in `mail_dir`
    (`<data_dir>/mail`), one .eml file a message. Output goes to
    `<data_dir>/logs/<name>.log`; `log_sink(name, line)` additionally gets every line.
    """

    def __init__(
        self,
        data_dir: Path,
        ports: Ports = None,
        env: Mapping[str, str] | None = None,
        mongo_uri: str | None = None,
        log_sink: LogSink | None = None,
        *,
        services: Iterable[str] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.logs_dir = self.data_dir / "logs"
        self._env: dict[str, str] = {**os.environ, **(env or {})}
        self._overrides: dict[str, dict[str, str]] = {}  # per process, set by restart()
        self._log_sink = log_sink
        names = SERVICE_NAMES if services is None else tuple(_canonical(n) for n in services)
        self._specs = [spec for spec in SERVICES if spec.name in names]
        # Extra copies of a service ("interviews-2", ...): same environment and database, a
        # port of their own, not behind the gateway. They compete for the same queues and the
        # outbox lease, which is what a second pod does (the chaos tests kill the first).
        self._replica_of: dict[str, str] = {}
        for service, count in (replicas or {}).items():
            base = _canonical(service)
            if base not in names:
                raise ValueError(f"replicas of {service!r}, which this stack does not run")
            for n in range(2, int(count) + 1):
                self._replica_of[f"{base}-{n}"] = base

        given_uri = mongo_uri or self._env.get("MONGO_URI") or None
        self._owns_mongo = given_uri is None
        self.mail_dir = self.data_dir / "mail"
        self._owns_mail = "notifications" in names and not self._env.get("SMTP_HOST")
        # Auto ports mean "another stack may be running beside this one" (a test run next to
        # `make run`): the broker, Redis (and a shared Mongo) are shared, so this stack also
        # gets names of its own, or it would consume the other stack's events.
        self.namespace: dict[str, str] = {}
        if ports == "auto":
            self.namespace = {
                k: v for k, v in self._private_namespace().items() if not self._env.get(k)
            }
            self._env.update(self.namespace)
        resolved = self._resolve_ports(ports)
        self._mongo_uri = given_uri or (
            f"mongodb://127.0.0.1:{resolved[MONGO]}/?directConnection=true"
        )
        self._processes: dict[str, _Process] = {
            name: _Process(name, port, self.logs_dir / f"{name}.log")
            for name, port in resolved.items()
            if (name != MONGO or self._owns_mongo) and (name != MAIL or self._owns_mail)
        }
        self._started = False

    def _private_namespace(self) -> dict[str, str]:
        """Names for this data directory's stack, kept in it: a restart on the same data
        finds the same queues (and the events waiting in them)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        stored = self.data_dir / "namespace"
        tag = stored.read_text().strip() if stored.exists() else ""
        if not re.fullmatch(r"[a-z0-9]{8}", tag):
            tag = "s" + os.urandom(4).hex()[:7]
            stored.write_text(tag + "\n")
        names = {
            "EVENTS_EXCHANGE": f"mi.events.{tag}",
            "QUEUE_PREFIX": f"{tag}.",
            "REDIS_KEY_PREFIX": f"{tag}:",
        }
        if not self._owns_mongo:  # its own Mongo-wire server is private already
            names["MONGO_DB_PREFIX"] = f"{tag}_"
        return names

    def describe_namespace(self) -> str | None:
        """One line saying which names this stack keeps to itself, or None."""
        env = self._env
        if not self.namespace:
            return None
        parts = [
            f"exchange {env.get('EVENTS_EXCHANGE')}",
            f"queues {env.get('QUEUE_PREFIX')}*",
            f"Redis keys {env.get('REDIS_KEY_PREFIX')}*",
        ]
        if env.get("MONGO_DB_PREFIX"):
            parts.append(f"databases {env.get('MONGO_DB_PREFIX')}*")
        return "private namespace: " + ", ".join(parts)

    # ----------------------------------------------------------------- public API

    @property
    def gateway_url(self) -> str:
        return self.service_url("gateway")

    def service_url(self, name: str) -> str:
        """Base URL of a service, e.g. http://127.0.0.1:8001 for "auth"."""
        return f"http://127.0.0.1:{self._process(name).port}"

    @property
    def mongo_uri(self) -> str:
        return self._mongo_uri

    @property
    def services(self) -> tuple[str, ...]:
        """Names of the services this stack runs, gateway first, replicas last."""
        return tuple(spec.name for spec in self._specs) + tuple(self._replica_of)

    def replica_of(self, name: str) -> str:
        """The service a process runs ("interviews" for "interviews-2" and "interviews")."""
        return self._replica_of.get(_canonical(name), _canonical(name))

    @property
    def ports(self) -> dict[str, int]:
        """Port of every process this stack runs ("mongo" too when it starts one)."""
        return {name: p.port for name, p in self._processes.items()}

    def log_path(self, name: str) -> Path:
        return self._process(name).log_path

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> list[str]:
        """Last lines the current run of a process wrote."""
        p = self._process(name)
        return _read_tail(p.log_path, p.log_offset, lines)

    def popen(self, name: str) -> subprocess.Popen[bytes] | None:
        return self._process(name).popen

    def returncode(self, name: str) -> int | None:
        """None while the process runs (or was never started), else its exit status."""
        return self._process(name).returncode

    def is_running(self, name: str) -> bool:
        return self._process(name).alive

    def start(self, timeout: float = 60.0) -> Self:
        """Start Mongo (if needed) and every service; return once every /readyz is 200.

        Raises DependencyUnavailable when RabbitMQ or Redis is down, StackError (with
        the last lines of the failing process's log) when something does not come up
        in `timeout` seconds. Whatever was started is stopped again before raising.
        """
        if self._started:
            raise StackError("stack already started")
        deadline = time.monotonic() + timeout
        problems = check_dependencies(self._env)
        if problems:
            raise DependencyUnavailable(problems)
        busy = [f"{name} ({p.port})" for name, p in self._processes.items() if port_in_use(p.port)]
        if busy:
            raise StackError(
                f"port already in use: {', '.join(busy)}; is another stack running "
                "(see `ss -ltnp`)? Stop it, or use free ports: `devstack.py run "
                '--auto-ports`, Stack(ports="auto").'
            )
        self._started = True
        _live_stacks.add(self)
        try:
            if self._owns_mail:  # starts while Mongo does; waited for with the services
                self._spawn(MAIL)
            if self._owns_mongo:
                self._spawn(MONGO)
                self._wait_mongo(deadline, timeout)
            for name in self.services:
                self._spawn(name)
            if self._owns_mail:
                self._wait_mail(deadline, timeout)
            self._wait_ready(self.services, deadline, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the services (SIGTERM, SIGKILL after 10 s), then Mongo. Idempotent."""
        services = [self._processes[name] for name in self.services]
        if MAIL in self._processes:
            services.append(self._processes[MAIL])
        _terminate(services)
        if MONGO in self._processes:
            _terminate([self._processes[MONGO]])
        for p in self._processes.values():
            if p.pump is not None:
                p.pump.join(timeout=2.0)
                p.pump = None
        self._started = False
        _live_stacks.discard(self)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal one process group (default SIGKILL, like a crash); return its status.

        A process that ignores a gentler signal is SIGKILLed after 10 s.
        """
        p = self._process(name)
        if p.popen is None:
            raise StackError(f"{p.name} was never started")
        if p.popen.poll() is None:
            _kill_group(p.popen, sig)
            try:
                p.popen.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _kill_group(p.popen, signal.SIGKILL)
                p.popen.wait()
        _kill_group(p.popen, signal.SIGKILL)
        return p.popen.returncode

    def restart(
        self, name: str, timeout: float = 60.0, env: Mapping[str, str] | None = None
    ) -> None:
        """Stop one process if it runs, start it again on the same port, wait for it.

        `env` replaces that process's extra environment from now on (None keeps it; {}
        clears it): a test can point one service somewhere else and back."""
        p = self._process(name)
        if env is not None:
            self._overrides[name] = dict(env)
        deadline = time.monotonic() + timeout
        _terminate([p])
        if p.pump is not None:
            p.pump.join(timeout=2.0)
        self._spawn(p.name)
        if p.name == MONGO:
            self._wait_mongo(deadline, timeout)
        elif p.name == MAIL:
            self._wait_mail(deadline, timeout)
        else:
            self._wait_ready([p.name], deadline, timeout)

    def save_stacks(self, name: str) -> Path:
        """Write where a (hung) process and its threads wait to `<logs>/<name>-stacks-<time>.txt`.

        Python stacks: `kill -USR1` (servicekit.devmongo registers faulthandler for it; they
        land in the process's log and are copied here), `py-spy dump --native` when py-spy is on
        PATH, and each thread's kernel state and wait channel from /proc."""
        p = self._process(name)
        if p.popen is None:
            raise StackError(f"{name} was never started")
        pid = p.popen.pid
        out = self.logs_dir / f"{name}-stacks-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        parts = [f"{name} pid {pid}, {time.strftime('%Y-%m-%d %H:%M:%S')}"]
        offset = _size(p.log_path)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 3
        while _size(p.log_path) == offset and time.monotonic() < deadline:
            time.sleep(0.1)  # the dump is written by the process itself, when it runs at all
        with p.log_path.open("rb") as log:
            log.seek(offset)
            dumped = log.read().decode("utf-8", "replace")
        parts.append("--- Python stacks (faulthandler, SIGUSR1) ---\n" + (dumped or "(none)"))
        spy = shutil.which("py-spy")
        if spy:
            try:
                done = subprocess.run(
                    [spy, "dump", "--native", "--pid", str(pid)],
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                parts.append("--- py-spy dump --native ---\n" + done.stdout + done.stderr)
            except (OSError, subprocess.TimeoutExpired) as exc:
                parts.append(f"--- py-spy dump failed: {exc!r} ---")
        else:
            parts.append("--- py-spy not on PATH (`uv pip install py-spy` for native frames) ---")
        parts.append("--- threads (/proc: state, wait channel) ---")
        for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
            with contextlib.suppress(OSError, IndexError):
                state = (task / "stat").read_text().split(") ", 1)[1].split()[0]
                wchan = (task / "wchan").read_text().strip() or "-"
                comm = (task / "comm").read_text().strip()
                parts.append(f"{task.name} {comm}: state {state}, wchan {wchan}")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(parts) + "\n")
        return out

    def __enter__(self) -> Self:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Stack(data_dir={str(self.data_dir)!r}, ports={self.ports!r})"

    # ----------------------------------------------------------------- internals

    def _process(self, name: str) -> _Process:
        try:
            return self._processes[_canonical(name)]
        except KeyError:
            raise KeyError(
                f"no process {name!r} in this stack (have {sorted(self._processes)})"
            ) from None

    def _resolve_ports(self, ports: Ports) -> dict[str, int]:
        wanted: dict[str, int] = {spec.name: spec.default_port for spec in self._specs}
        wanted.update(dict.fromkeys(self._replica_of, 0))  # replicas: always a free port
        if self._owns_mongo:
            wanted[MONGO] = DEFAULT_MONGO_PORT
        if self._owns_mail:
            wanted[MAIL] = DEFAULT_MAIL_PORT
        if ports == "auto":
            wanted = dict.fromkeys(wanted, 0)
        elif ports is not None:
            for name, port in ports.items():
                key = _canonical(name)
                if key in wanted:
                    wanted[key] = int(port)
                elif key not in (MONGO, MAIL) and key not in SERVICE_NAMES:
                    raise ValueError(f"unknown process {name!r} in ports")
        auto = [name for name, port in wanted.items() if port == 0]
        wanted.update(zip(auto, free_ports(len(auto)), strict=True))
        return wanted

    def _command(self, name: str) -> list[str]:
        p = self._processes[name]
        if name == MONGO:
            # An explicit config (empty unless edited) keeps ~/.secantus/*.toml out.
            config = self.data_dir / "secantusd.toml"
            if not config.exists():
                config.write_text(
                    "# secantusdb settings for the local stack (flags override these)\n"
                )
            return [
                # secantusdb, reaping abandoned transactions sooner (servicekit.devmongo)
                sys.executable, "-m", "servicekit.devmongo",
                "--config", str(config),
                "--host", "127.0.0.1",
                "--port", str(p.port),
                "--storage-path", str(self.data_dir / "mongo"),
            ]  # fmt: skip
        if name == MAIL:
            return [
                sys.executable, "-m", "notifications.catcher",
                "--host", "127.0.0.1", "--port", str(p.port), "--dir", str(self.mail_dir),
            ]  # fmt: skip
        service = self.replica_of(name)
        module = next(spec.module for spec in SERVICES if spec.name == service)
        return [
            sys.executable, "-m", "uvicorn", "--factory", f"{module}.main:create_app",
            "--host", "127.0.0.1", "--port", str(p.port),
            # client addresses come from the socket; the gateway trusts X-Forwarded-For only
            # from TRUSTED_PROXIES itself
            "--no-proxy-headers", "--no-server-header",
        ]  # fmt: skip

    def environment(self, name: str) -> dict[str, str]:
        """The environment `name` runs with (for an operator command against this stack)."""
        return self._environment(name)

    def _environment(self, name: str) -> dict[str, str]:
        env = dict(self._env) | self._overrides.get(name, {})
        env["PYTHONUNBUFFERED"] = "1"  # lines reach the log as they are written
        if name in (MONGO, MAIL):
            return env
        port = self._processes[name].port
        name = self.replica_of(name)  # a replica runs exactly as its service does
        env.update(
            PORT=str(port),
            MONGO_URI=self._mongo_uri,
            RABBITMQ_URL=_RABBITMQ.url(self._env),
            REDIS_URL=_REDIS.url(self._env),
            DATA_DIR=str(self.data_dir),
        )
        if "auth" in self._processes:
            env["AUTH_URL"] = self.service_url("auth")  # every service verifies tokens (JWKS)
        if name == "gateway":
            for upstream, var in UPSTREAM_URL_VARS.items():
                if upstream in self._processes:
                    env[var] = self.service_url(upstream)
            # the web app on the API's origin, once `make web` has built it
            env.setdefault("WEB_DIST", str(REPO_ROOT / "web" / "dist"))
        if name == "billing" and "gateway" in self._processes:
            # the local checkout sends the buyer back to the web app's billing page
            env.setdefault("CHECKOUT_SUCCESS_URL", f"{self.gateway_url}/billing?checkout=success")
            env.setdefault("CHECKOUT_CANCEL_URL", f"{self.gateway_url}/billing?checkout=cancelled")
        if name == "notifications":
            if self._owns_mail:
                env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(self._processes[MAIL].port))
            if "gateway" in self._processes:  # links in the mail open the web app
                env.setdefault("WEB_BASE_URL", self.gateway_url)
        return env

    def _spawn(self, name: str) -> None:
        p = self._processes[name]
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        command = self._command(name)
        with p.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"==== devstack {stamp}: {' '.join(command)}\n".encode())
            p.log_offset = log.tell()
            # Without a sink the child writes straight to the file: nothing in this
            # process has to stay alive for its output to be kept.
            p.popen = subprocess.Popen(
                command,
                env=self._environment(name),
                cwd=self.data_dir if name == MONGO else REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log if self._log_sink is None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )
        p.pump = None
        if self._log_sink is None:
            return
        assert p.popen.stdout is not None
        p.pump = threading.Thread(
            target=_pump,
            args=(name, p.popen.stdout, p.log_path, self._log_sink),
            name=f"devstack-log-{name}",
            daemon=True,
        )
        p.pump.start()

    def _failure(self, name: str, what: str) -> StackError:
        p = self._processes[name]
        tail = "\n".join(_read_tail(p.log_path, p.log_offset))
        return StackError(f"{what}\n--- last lines of {p.log_path} ---\n{tail or '(no output)'}")

    def _wait_mongo(self, deadline: float, timeout: float) -> None:
        p = self._processes[MONGO]
        while True:
            if p.returncode is not None:
                raise self._failure(
                    MONGO,
                    f"mongo (secantusdb) exited with {describe_exit(p.returncode)} while starting",
                )
            text = "\n".join(_read_tail(p.log_path, p.log_offset, lines=200))
            if _MONGO_LISTENING.search(text) and tcp_reachable("127.0.0.1", p.port, timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise self._failure(
                    MONGO,
                    f"mongo (secantusdb) did not listen on port {p.port} within {timeout:g}s",
                )
            time.sleep(0.1)

    def _wait_mail(self, deadline: float, timeout: float) -> None:
        p = self._processes[MAIL]
        while not tcp_reachable("127.0.0.1", p.port, timeout=0.5):
            if p.returncode is not None:
                raise self._failure(
                    MAIL,
                    f"the SMTP catcher exited with {describe_exit(p.returncode)} while starting",
                )
            if time.monotonic() > deadline:
                raise self._failure(
                    MAIL, f"the SMTP catcher did not listen on port {p.port} within {timeout:g}s"
                )
            time.sleep(0.1)

    def _wait_ready(self, names: Iterable[str], deadline: float, timeout: float) -> None:
        pending = [n for n in self.services if n in set(names)]
        last: dict[str, str] = {}
        while pending:
            for name in list(pending):
                p = self._processes[name]
                if p.returncode is not None:
                    raise self._failure(
                        name,
                        f"{name} exited with {describe_exit(p.returncode)} before it was ready",
                    )
                status, detail = probe(f"{self.service_url(name)}/readyz")
                if status == 200:
                    pending.remove(name)
                else:
                    shown = " ".join(detail.split())[:200]
                    last[name] = (
                        f"{status} {shown}" if status is not None else f"no answer ({shown})"
                    )
            if not pending:
                return
            if time.monotonic() > deadline:
                first = pending[0]
                others = ", ".join(f"{n}: {last.get(n, '?')}" for n in pending[1:])
                message = (
                    f"{first} was not ready within {timeout:g}s "
                    f"(last /readyz: {last.get(first, '?')})"
                )
                if others:
                    message += f"; also not ready: {others}"
                raise self._failure(first, message)
            time.sleep(0.2)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class MongoWatch:
    """Pings the stack's own Mongo-wire server; when it has not answered for `hang_seconds`
    while its process lives, saves its stacks, kills it and starts it again on the same data.

    Why: secantusdb can hang for good (its storage lock held while WiredTiger waits for cache
    room that never comes; docs/secantusdb-hang.md). Services need not be told: PyMongo
    reconnects by itself once the server answers again. `check()` is called from the
    supervisor's loop; `say` gets the loud lines.
    """

    def __init__(
        self,
        stack: Stack,
        say: Callable[[str], None],
        hang_seconds: float = 10.0,
        every_seconds: float = 2.0,
    ) -> None:
        from pymongo import MongoClient

        self.stack = stack
        self.say = say
        self.hang_seconds = hang_seconds
        self.every_seconds = every_seconds
        timeout_ms = int(max(every_seconds, 1.0) * 1000)
        self._client: Any = MongoClient(
            stack.mongo_uri,
            serverSelectionTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
        )
        self.last_answer = time.monotonic()
        self._next_ping = 0.0
        self.restarts = 0

    def close(self) -> None:
        self._client.close()

    def ping(self) -> bool:
        from pymongo.errors import PyMongoError

        try:
            self._client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    def check(self) -> None:
        now = time.monotonic()
        if now < self._next_ping:
            return
        self._next_ping = now + self.every_seconds
        if not self.stack.is_running(MONGO):
            self.last_answer = now  # an exit is the supervisor's to report, not a hang
            return
        if self.ping():
            self.last_answer = time.monotonic()
            return
        silent = time.monotonic() - self.last_answer
        if silent < self.hang_seconds:
            return
        banner = "!" * 72
        self.say(banner)
        self.say(f"MONGO-WIRE SERVER HUNG: secantusdb has not answered a ping for {silent:.0f}s")
        stacks = self.stack.save_stacks(MONGO)
        self.say(f"its stacks are saved in {stacks} (please attach them to the upstream report)")
        self.stack.kill(MONGO, signal.SIGKILL)  # a hung server does not stop on SIGTERM
        self.stack.restart(MONGO, timeout=60)
        self.restarts += 1
        self.last_answer = time.monotonic()
        self.say(f"secantusdb restarted on the same data ({self.stack.mongo_uri}); services")
        self.say("reconnect by themselves. Requests in flight during the hang have failed.")
        self.say(banner)


def _canonical(name: str) -> str:
    return name.replace("_", "-")


def _pump(name: str, stream: IO[bytes], log_path: Path, sink: LogSink) -> None:
    """Copy a process's output to its log file and hand each line to the sink."""
    with stream, log_path.open("ab") as log:
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            with contextlib.suppress(Exception):
                sink(name, raw.decode("utf-8", "replace").rstrip("\r\n"))


# --------------------------------------------------------------------------- CLI

_COLOURS: dict[str, str] = {
    "gateway": "36",
    "auth": "32",
    "interviews": "33",
    "ai-runner": "35",
    "billing": "34",
    MONGO: "90",
    "devstack": "1",
}


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class Console:
    """Prints lines from many processes, each with a fixed-width `[name]` prefix."""

    def __init__(self, stream: TextIO = sys.stdout, colour: bool | None = None) -> None:
        self._stream = stream
        self._colour = use_colour(stream) if colour is None else colour
        self._width = max(len(name) for name in _COLOURS)
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        if _PROBE_LINE.search(text):
            return
        prefix = f"[{name:<{self._width}}]"
        if self._colour:
            prefix = f"\033[{_COLOURS.get(name, '0')}m{prefix}\033[0m"
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            self._stream.write(f"{prefix} {text}\n")
            self._stream.flush()

    def say(self, text: str) -> None:
        for part in text.splitlines() or [""]:
            self.line("devstack", part)


class _Shutdown(Exception):
    """SIGINT or SIGTERM arrived: stop everything."""


def _on_shutdown_signal(signum: int, frame: FrameType | None) -> None:
    # One signal is enough; later ones must not interrupt the orderly stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Shutdown(signal.Signals(signum).name)


def _supervise(stack: Stack, console: Console) -> int:
    """Report processes that die; restart a hung Mongo-wire server; keep the others running
    until a signal arrives."""
    reported: set[str] = set()
    names = [*stack.services, *(n for n in (MONGO, MAIL) if n in stack.ports)]
    watch = MongoWatch(stack, console.say) if MONGO in stack.ports else None
    while True:
        if watch is not None:
            try:
                watch.check()
            except StackError as exc:
                console.say(f"could not restart secantusdb: {exc}")
                watch = None
        for name in names:
            code = stack.returncode(name)
            if code is None or name in reported:
                continue
            reported.add(name)
            consequence = {
                MONGO: "services that use MongoDB will fail until it is back",
                MAIL: "mail waits in notifications and is retried until it is back",
            }.get(name, "the other services keep running")
            console.say(
                f"{name} exited with {describe_exit(code)}; {consequence} (Ctrl-C stops everything)"
            )
        if len(reported) == len(names):
            console.say("every process has exited")
            return 1
        time.sleep(0.5)


def _run(args: argparse.Namespace) -> int:
    console = Console()
    problems = check_dependencies()
    if problems:
        print("\n\n".join(problems), file=sys.stderr)
        return 2
    # a person reads these lines: readable ones (coloured on a terminal), unless LOG_JSON says
    terminal = {
        "LOG_JSON": os.environ.get("LOG_JSON", "false"),
        "LOG_COLOUR": os.environ.get("LOG_COLOUR", "true" if use_colour(sys.stdout) else "false"),
    }
    stack = Stack(
        args.data_dir,
        ports="auto" if args.auto_ports else None,
        env=terminal,
        log_sink=console.line,
    )
    signal.signal(signal.SIGINT, _on_shutdown_signal)
    signal.signal(signal.SIGTERM, _on_shutdown_signal)
    code = 0
    try:
        console.say(f"data in {stack.data_dir}, logs in {stack.logs_dir}")
        if stack.describe_namespace():
            console.say(str(stack.describe_namespace()))
        if MONGO in stack.ports:
            console.say(f"starting secantusdb on {stack.mongo_uri}")
        console.say(f"starting {', '.join(stack.services)}")
        stack.start(timeout=args.timeout)
        console.say(f"Gateway: {stack.gateway_url}")
        if MAIL in stack.ports:
            console.say(f"Mail: {stack.mail_dir} (one .eml file a message; `make mail` lists them)")
        if (REPO_ROOT / "web" / "dist" / "index.html").is_file():
            console.say(f"Web app: {stack.gateway_url}/ (open it in a browser)")
        console.say(f"API docs: {stack.gateway_url}/docs")
        console.say("all services ready; Ctrl-C stops everything")
        code = _supervise(stack, console)
    except _Shutdown as exc:
        console.say(f"{exc}: stopping")
    except DependencyUnavailable as exc:
        print(exc, file=sys.stderr)
        code = 2
    except StackError as exc:
        console.say(f"could not start: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        console.say("stopped")
    return code


def _check(args: argparse.Namespace) -> int:
    problems = check_dependencies()
    if problems:
        print("\n\n".join(problems), file=sys.stderr)
        return 2
    print("RabbitMQ and Redis are reachable.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack", description="Start the whole platform on this machine."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the whole platform and stream its logs")
    run.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data", help="default: .data/")
    run.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    run.add_argument(
        "--auto-ports", action="store_true", help="pick free ports instead of 8000-8005"
    )
    run.set_defaults(handler=_run)
    check = commands.add_parser("check", help="check that RabbitMQ and Redis are reachable")
    check.set_defaults(handler=_check)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
