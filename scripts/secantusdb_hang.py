"""Try to make secantusdb (the pinned Mongo-wire server) hang, against the server alone.

    python scripts/secantusdb_hang.py                      # both workloads, 64M cache
    python scripts/secantusdb_hang.py --workload conflicts --rounds 40 --cache-size 64M

No platform code is involved: a plain `secantus.cli` server (its own defaults, 60 s
transaction lifetime) on a temporary directory, driven by PyMongo. Workloads:

- `conflicts`: 50 threads, each running a transaction that updates the same document
  (what the e2e test of fifty simultaneous interview starts does to the quota row), for
  `--rounds` rounds. Write conflicts abort and PyMongo's `with_transaction` retries them.
- `overwrite`: as `pinned`, but after 64 MiB of inserts the same documents are rewritten
  (every version is history the idle transaction's snapshot may need).
- `abandoned`: as `overwrite`, but the open transaction's client is killed (SIGKILL) first.
- `pinned`: one transaction writes a document and then stays open, idle; meanwhile other
  clients insert `--mib` MiB of 64 KiB documents. The open transaction pins everything written
  after it in WiredTiger's cache until the server reaps it.

A watchdog pings the server every second. When no ping has answered for `--hang-seconds`
(10), the server is declared hung: its Python stacks are dumped (faulthandler on SIGUSR1,
registered by the launcher below, into the server log), with py-spy's native stacks when
py-spy is on PATH, and each thread's kernel wait channel from /proc; all of it is printed,
the server killed, and the exit status is 1. Exit 0: no hang in this run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pymongo import MongoClient, ReturnDocument
from pymongo.errors import PyMongoError

# The server, with its Python stacks dumpable on SIGUSR1 (all threads, even while one holds
# a lock the others wait on: faulthandler writes from the signal handler).
LAUNCHER = (
    "import faulthandler, signal, sys\n"
    "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
    "from secantus.cli import main\n"
    "sys.exit(main(sys.argv[1:]) or 0)\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kernel_waits(pid: int) -> str:
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            comm = (task / "comm").read_text().strip()
            wchan = (task / "wchan").read_text().strip() or "-"
            state = (task / "stat").read_text().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        lines.append(f"  thread {task.name} {comm}: state {state}, wchan {wchan}")
    return "\n".join(lines)


def dump_stacks(pid: int, log_path: Path) -> str:
    """Everything that says where a hung server waits, as text."""
    parts = []
    offset = log_path.stat().st_size
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and log_path.stat().st_size == offset:
        time.sleep(0.1)
    time.sleep(0.5)  # let the dump of every thread finish (it is written in one go, but large)
    with log_path.open("rb") as log:
        log.seek(offset)
        parts.append(
            "--- Python stacks (faulthandler) ---\n" + log.read().decode("utf-8", "replace")
        )
    spy = shutil.which("py-spy")
    if spy:
        done = subprocess.run(
            [spy, "dump", "--native", "--pid", str(pid)], capture_output=True, text=True, timeout=60
        )
        parts.append("--- py-spy dump --native ---\n" + done.stdout + done.stderr)
    else:
        parts.append("--- py-spy: not installed (pip install py-spy for native frames) ---")
    parts.append("--- kernel wait channels (/proc) ---\n" + kernel_waits(pid))
    return "\n".join(parts)


class Watchdog(threading.Thread):
    def __init__(self, uri: str, hang_seconds: float) -> None:
        super().__init__(daemon=True)
        self.client: MongoClient = MongoClient(
            uri, serverSelectionTimeoutMS=2000, socketTimeoutMS=2000, connectTimeoutMS=2000
        )
        self.hang_seconds = hang_seconds
        self.last_answer = time.monotonic()
        self.hung = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self.client.admin.command("ping")
                self.last_answer = time.monotonic()
            except PyMongoError:
                if time.monotonic() - self.last_answer > self.hang_seconds:
                    self.hung.set()
                    return


def conflicts(uri: str, rounds: int, watchdog: Watchdog, writers: int = 50) -> str:
    client: MongoClient = MongoClient(uri, maxPoolSize=writers + 5, socketTimeoutMS=120_000)
    quota = client["hang"]["quota"]
    quota.insert_one({"_id": "one", "used": 0})
    errors: list[str] = []

    def take(_: int) -> None:
        def txn(session) -> None:  # type: ignore[no-untyped-def]
            quota.find_one_and_update(
                {"_id": "one"},
                {"$inc": {"used": 1}},
                session=session,
                return_document=ReturnDocument.AFTER,
            )

        try:
            with client.start_session() as session:
                session.with_transaction(txn)
        except PyMongoError as exc:
            errors.append(type(exc).__name__)

    for n in range(rounds):
        threads = [threading.Thread(target=take, args=(i,), daemon=True) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(1.0)
                if watchdog.hung.is_set():
                    return f"hung in round {n + 1} of {rounds}"
        print(
            f"  round {n + 1}: used={quota.find_one({'_id': 'one'})['used']}, "
            f"errors so far {len(errors)}",
            flush=True,
        )
    return (
        f"no hang in {rounds} rounds of {writers} conflicting transactions ({len(errors)} gave up)"
    )


ABANDON = (
    "import sys, time\n"
    "from pymongo import MongoClient\n"
    "client = MongoClient(sys.argv[1])\n"
    "session = client.start_session()\n"
    "session.start_transaction()\n"
    "client.hang.pin.insert_one({'_id': 'abandoned'}, session=session)\n"
    "print('open', flush=True)\n"
    "time.sleep(3600)\n"
)


def pinned(
    uri: str, mib: int, watchdog: Watchdog, overwrite: bool = False, abandon: bool = False
) -> str:
    client: MongoClient = MongoClient(uri, socketTimeoutMS=120_000)
    db = client["hang"]
    if abandon:
        # a client killed with its transaction open (what a crashed service leaves behind)
        child = subprocess.Popen(
            [sys.executable, "-c", ABANDON, uri], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "open"
        child.kill()
        child.wait()
    else:
        session = client.start_session()
        session.start_transaction()
        db["pin"].insert_one({"_id": "open"}, session=session)  # then left open, idle
    blob = "x" * 65536
    written = 0
    while written < mib * 1024 * 1024:
        done = threading.Event()
        result: list[BaseException] = []

        def batch(
            done: threading.Event = done,
            result: list[BaseException] = result,
            written: int = written,
        ) -> None:
            try:
                if overwrite and written >= 16 * 65536 * 64:
                    # rewrite the first 64 batches' documents again and again: each version
                    # must be kept for the idle transaction's snapshot
                    for n in range(16):
                        db["fill"].update_one(
                            {"_id": (written // 65536 + n) % (16 * 64)}, {"$set": {"blob": blob}}
                        )
                else:
                    db["fill"].insert_many(
                        [{"_id": written // 65536 + n, "blob": blob} for n in range(16)]
                    )
            except BaseException as exc:
                result.append(exc)
            done.set()

        threading.Thread(target=batch, daemon=True).start()
        while not done.wait(1.0):
            if watchdog.hung.is_set():
                return f"hung after {written / 2**20:.0f} MiB inserted behind an idle transaction"
        if result:
            return f"insert failed after {written / 2**20:.0f} MiB: {result[0]!r}"
        written += 16 * 65536
    return f"no hang after {mib} MiB written behind an open transaction (idle or abandoned)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workload",
        choices=["conflicts", "pinned", "overwrite", "abandoned", "both"],
        default="both",
    )
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--cache-size", default="64M")
    parser.add_argument("--hang-seconds", type=float, default=10.0)
    args = parser.parse_args()

    import secantus

    print(
        f"secantusdb {getattr(secantus, '__version__', '?')}, Python {sys.version.split()[0]}, "
        f"pymongo {__import__('pymongo').version}, {os.uname().sysname} {os.uname().release}, "
        f"{os.cpu_count()} CPUs"
    )
    hung = False
    for workload in ("conflicts", "pinned") if args.workload == "both" else (args.workload,):
        storage = Path(tempfile.mkdtemp(prefix="secantus-hang-"))
        port = free_port()
        log_path = storage / "server.log"
        command = [
            sys.executable, "-c", LAUNCHER,
            "--host", "127.0.0.1", "--port", str(port),
            "--storage-path", str(storage / "db"), "--cache-size", args.cache_size,
        ]  # fmt: skip
        print(f"{workload}: {' '.join(command[3:])}", flush=True)
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), 0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        print(log_path.read_text()[-3000:])
                        return 2
                    time.sleep(0.2)
            watchdog = Watchdog(uri, args.hang_seconds)
            watchdog.start()
            started = time.monotonic()
            if workload == "conflicts":
                verdict = conflicts(uri, args.rounds, watchdog)
            else:
                verdict = pinned(
                    uri,
                    args.mib,
                    watchdog,
                    overwrite=workload in ("overwrite", "abandoned"),
                    abandon=workload == "abandoned",
                )
            print(f"{workload}: {verdict} ({time.monotonic() - started:.0f}s)", flush=True)
            if watchdog.hung.is_set():
                hung = True
                print(dump_stacks(server.pid, log_path), flush=True)
            watchdog.stop.set()
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            shutil.rmtree(storage, ignore_errors=True)
    return 1 if hung else 0


if __name__ == "__main__":
    sys.exit(main())
