"""A RabbitMQ node and a Redis server of one's own, for the fault-injection suite.

The RabbitMQ and Redis that `make run` and the tests use are shared by everyone on the
machine; restarting them to see what the platform does would break other people's runs. The
chaos suite instead starts its own: a RabbitMQ node (its own node name, AMQP, distribution
and epmd ports, data, logs, config and Erlang cookie, all in a temporary directory) and a
redis-server on a free port that saves nothing. Each can be stopped and started again on the
same port and data, and `close()` stops it and removes its directory. The shared servers are
never touched: not even the system's config files are read (`/etc/rabbitmq`).

    with PrivateRabbitMQ() as broker, PrivateRedis() as redis:
        broker.url, redis.url          # amqp://guest:guest@127.0.0.1:<port>/, redis://...
        broker.stop(); broker.start()  # "RabbitMQ restarted"
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from devstack import StackError, free_ports, tcp_reachable

# The Debian/Ubuntu package puts a wrapper on PATH that re-runs the scripts as the
# `rabbitmq` user (with its home, /var/log/rabbitmq, and no access to our directory): the
# real scripts live here. Elsewhere (generic tarball, Homebrew) PATH has the real ones.
_RABBITMQ_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
STOP_SECONDS = 30.0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _rabbitmq_script(name: str) -> str:
    packaged = _RABBITMQ_SCRIPTS / name
    if packaged.is_file():
        return str(packaged)
    found = shutil.which(name)
    if found is None:
        raise StackError(
            f"{name} is not installed; the chaos suite runs a RabbitMQ node of its own "
            "(sudo apt-get install rabbitmq-server)"
        )
    return found


class _PrivateServer:
    """A server process in its own process group, with its files in a temporary directory."""

    kind = "server"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"chaos-{self.kind}-"))
        self.log_path = self.dir / f"{self.kind}.log"
        self.port = 0
        self._popen: subprocess.Popen[bytes] | None = None

    # -- what a subclass says --------------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        return dict(os.environ)

    def _after_close(self) -> None:
        """Whatever the server left running outside its process group."""

    # -- life cycle ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    def start(self, timeout: float = 60.0) -> Self:
        """Start the server (on the same port and data as before, after a `stop`) and
        return once it accepts connections."""
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} {' '.join(self._command())}\n".encode())
            self._popen = subprocess.Popen(
                self._command(),
                env=self._environment(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not tcp_reachable("127.0.0.1", self.port, timeout=0.5):
            code = self._popen.poll()
            if code is not None or time.monotonic() > deadline:
                what = f"exited with {code}" if code is not None else f"not up in {timeout:g}s"
                self.stop()
                raise StackError(
                    f"the chaos suite's own {self.kind} on port {self.port} {what}\n"
                    f"--- {self.log_path} ---\n{_tail(self.log_path)}"
                )
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        """Stop the server the way an operator would (SIGTERM, then SIGKILL after
        STOP_SECONDS); its data and port stay for the next `start`."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        # whatever it started in its group goes with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()

    def close(self) -> None:
        """Stop it for good and remove its directory."""
        self.stop()
        self._after_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What is left of it after `close()` (nothing, when it cleaned up)."""
        left = []
        if self._popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, 0)  # a process of its group still exists
                left.append(f"{self.kind} processes (group {self._popen.pid})")
        if self.dir.exists():
            left.append(f"{self.kind} directory {self.dir}")
        left.extend(
            f"{self.kind} still listening on {port}"
            for port in self._ports()
            if tcp_reachable("127.0.0.1", port, timeout=0.5)
        )
        return left

    def _ports(self) -> list[int]:
        return [self.port]

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PrivateRabbitMQ(_PrivateServer):
    """A RabbitMQ node of one's own: node `chaos-<pid>-<tag>@localhost`, listening on
    127.0.0.1 only (AMQP, distribution, and a private epmd), guest/guest, no plugins."""

    kind = "rabbitmq"

    def __init__(self) -> None:
        super().__init__()
        self.port, self.dist_port, self.epmd_port = free_ports(3)
        self.node = f"chaos-{os.getpid()}-{os.urandom(2).hex()}@localhost"
        # Read by the server instead of /etc/rabbitmq/*: a listener on 127.0.0.1 only (the
        # listener is set here rather than with RABBITMQ_NODE_PORT, which some versions add
        # to the configured ones), no plugins, no environment file.
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "rabbitmq-env.conf").write_text("")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _command(self) -> list[str]:
        return [_rabbitmq_script("rabbitmq-server")]

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        d = self.dir
        env.update(
            # the Erlang cookie is created in HOME: a private one, nothing written to ~
            HOME=str(d),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_PID_FILE=str(d / "rabbitmq.pid"),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            # its own epmd: the node's name is registered nowhere anyone else looks
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def _ports(self) -> list[int]:
        return [self.port, self.dist_port, self.epmd_port]

    def _after_close(self) -> None:
        # erl started `epmd -daemon` for the node, outside the node's process group
        epmd = shutil.which("epmd")
        if epmd and tcp_reachable("127.0.0.1", self.epmd_port, timeout=0.5):
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
                capture_output=True,
                timeout=10,
                check=False,
            )


class PrivateRedis(_PrivateServer):
    """A redis-server of one's own on a free port of 127.0.0.1, keeping nothing on disk: a
    restart comes back empty, as a Redis without persistence does."""

    kind = "redis"

    def __init__(self) -> None:
        super().__init__()
        (self.port,) = free_ports(1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        server = shutil.which("redis-server")
        if server is None:
            raise StackError(
                "redis-server is not installed; the chaos suite runs a Redis of its own "
                "(sudo apt-get install redis-server)"
            )
        return [
            server,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
        ]  # fmt: skip
