"""Benchmark of servicekit's event kit against a raw aio-pika round trip, in one run.

What is measured (N events, default 2000, spread over `--aggregates` streams, pushed by
`--concurrency` concurrent workers):

1. raw broker baseline (aio-pika alone): a temporary topic exchange and a temporary durable
   queue -- classic, and quorum like the kit's work queues; N persistent messages published
   with publisher confirms and `mandatory`, each awaited for its confirm, by `--concurrency`
   concurrent publishers; a consumer with the kit's prefetch and manual ack notes when each
   message arrives. Reports publishes/s, consumed/s and publish -> consume latency (from just
   before `publish` to the consumer callback).
2. kit appends/s: every event is one `rt.command(work)` -- a Mongo transaction that loads
   the aggregate from its stream, records one `BenchPinged` and saves it (events row + outbox
   row) -- while the outbox relay and the consumer run. Appends/s is N over the wall time
   from the first command start to the last commit.
3. kit end to end: a `@rt.consumer("BenchPinged")` handler (the kit's inbox row plus an `$inc`
   on a per-aggregate document, in one transaction: a real idempotent consumer) notes
   `time.perf_counter_ns()` after its write, keyed by the event's `seq`. Latency runs from
   just before the event's command starts to that moment. It is split into command time and
   commit -> handler time, and into outbox `created_at` -> `sent_at` -> inbox `handled_at`
   read back from Mongo (millisecond resolution). Consumed/s is N over first command start
   to last handler run.
4. unloaded latency (`--probes`, default 30): the same round trips one event at a time
   (each waits for the previous one to be consumed), for the kit and for raw aio-pika on a
   quorum queue: the pipeline's own latency without queueing behind other events.

Also printed: CPU seconds used during each phase by this process, by the Mongo-wire server
(when this script started it), by RabbitMQ (`beam.smp`, when visible in /proc) and by the
whole machine (so load from anything else shows); the kit's append conflicts (its
`event_append_conflicts_total` metric), handler runs (more than N means retried
transactions) and handler runs that met an aggregate's version after a later one (events
of one aggregate handled out of order); with `--trace-mongo`, the Mongo commands the kit
issued per event (a pymongo CommandListener; adds a little client overhead).

The kit runs in-process through `servicekit.testing.running(app)` with its own database,
exchange and queue prefix; its queues and exchange are deleted at the end and its database
dropped. The kit's JSON logs (INFO, as in production) go to a file, not to stdout.

Run (RabbitMQ must be up at RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672/; a
secantusdb server is started in a temp dir unless MONGO_URI is set)::

    cd /work/main && uv run python bench/eventkit.py              # N=2000
    uv run python bench/eventkit.py --events 200 --concurrency 16
    uv run python bench/eventkit.py --trace-mongo                 # + Mongo commands per event
    uv run python bench/eventkit.py --profile /tmp/kit.prof       # + cProfile of the kit phase

Everything is bounded by `--deadline` seconds (default 300): on a timeout the script says
which phase was stuck and how far it got, and exits with status 2 (3 if even the clean-up
hung).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import importlib.metadata
import json
import logging
import os
import platform
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import aio_pika
from _stats import Dist
from contracts import DomainEvent, EventEnvelope
from contracts.events import event
from pymongo import monitoring
from servicekit.eventstore import Aggregate, Repository
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings
from servicekit.testing import DEFAULT_RABBITMQ_URL, delete_test_topology, free_port, running

SERVICE = "bench"
EXIT_TIMEOUT = 2
EXIT_HARD_TIMEOUT = 3
PROBE_BASE = 10_000_000  # seqs of the one-at-a-time probes
_OWNED_PIDS: list[int] = []  # processes this script started (the watchdog kills only these)


# ---------------------------------------------------------------------------------------
# the bench's own tiny domain


@event
class BenchPinged(DomainEvent):
    """One ping; `seq` identifies it within a run, `sent_at_ns` is its wall-clock send time."""

    seq: int
    sent_at_ns: int


class Pinger(Aggregate):
    aggregate_type = "bench-pinger"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.pings = 0

    def ping(self, seq: int) -> None:
        self.record(BenchPinged(seq=seq, sent_at_ns=time.time_ns()))

    def when(self, e: DomainEvent) -> None:
        if isinstance(e, BenchPinged):
            self.pings += 1


# ---------------------------------------------------------------------------------------
# measuring helpers


class PhaseTimeout(Exception):
    """A phase did not finish before the overall deadline."""


@dataclass
class Progress:
    """What the run is doing, for the timeout message."""

    phase: str = "starting"
    detail: Callable[[], str] = field(default=lambda: "")

    def describe(self) -> str:
        extra = self.detail()
        return f"{self.phase}{' (' + extra + ')' if extra else ''}"


def proc_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process from /proc, or None when it cannot be read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    ticks = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def find_pid(comm: str) -> int | None:
    """First process whose /proc comm is `comm` (read only, for CPU accounting)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == comm:
                    return int(entry.name)
    return None


@dataclass
class CpuMeter:
    """CPU seconds used over one phase by this process, Mongo, RabbitMQ and the machine."""

    mongo_pid: int | None
    rabbit_pid: int | None
    used: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    _start: dict[str, float | None] = field(default_factory=dict)
    _t0: float = 0.0

    def _sample(self) -> dict[str, float | None]:
        return {
            "bench": time.process_time(),
            "mongo": proc_cpu_seconds(self.mongo_pid),
            "rabbitmq": proc_cpu_seconds(self.rabbit_pid),
            "machine": machine_busy_seconds(),
        }

    def __enter__(self) -> CpuMeter:
        self._start = self._sample()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._t0
        end = self._sample()
        for name, before in self._start.items():
            after = end[name]
            if before is not None and after is not None:
                self.used[name] = after - before

    def render(self) -> str:
        if self.wall <= 0:
            return "n/a"
        parts = [
            f"{name} {self.used[name]:.1f}s ({self.used[name] / self.wall:.0%} of a core)"
            for name in ("bench", "mongo", "rabbitmq")
            if name in self.used
        ]
        if "machine" in self.used:
            ours = sum(self.used[n] for n in ("bench", "mongo", "rabbitmq") if n in self.used)
            cores = os.cpu_count() or 1
            parts.append(
                f"whole machine {self.used['machine'] / (self.wall * cores):.0%} busy of "
                f"{cores} cores, other processes {max(self.used['machine'] - ours, 0):.1f}s"
            )
        return f"over {self.wall:.2f}s wall: " + ", ".join(parts)


async def wait_for_event(flag: asyncio.Event, deadline: float, progress: Progress) -> None:
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(flag.wait(), timeout=max(remaining, 0.001))
    except TimeoutError as exc:
        raise PhaseTimeout(progress.describe()) from exc


async def run_workers(
    seqs: Sequence[int], concurrency: int, job: Callable[[int], Awaitable[None]]
) -> None:
    """`concurrency` workers pull from `seqs` in order and run `job` on each."""
    pending: Iterator[int] = iter(seqs)

    async def worker() -> None:
        for seq in pending:  # a shared iterator is safe: the loop is single-threaded
            await job(seq)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())


class Arrivals:
    """Arrival time of each seq, with an event set once a whole batch has arrived."""

    def __init__(self) -> None:
        self.at: dict[int, int] = {}
        self.calls = 0
        self._batch: range = range(0)
        self._count = 0
        self.complete = asyncio.Event()

    def expect(self, batch: range) -> None:
        self._batch, self._count = batch, 0
        self.complete.clear()

    @property
    def count(self) -> int:
        return self._count

    def arrived(self, seq: int) -> None:
        self.calls += 1
        if seq in self.at:
            return  # seen before (transaction retry or redelivery): keep the first time
        self.at[seq] = time.perf_counter_ns()
        if seq in self._batch:
            self._count += 1
            if self._count >= len(self._batch):
                self.complete.set()


# ---------------------------------------------------------------------------------------
# Mongo-wire server and watchdog


@contextlib.contextmanager
def mongo_server(workdir: Path) -> Iterator[tuple[str, int | None]]:
    """MONGO_URI if set, else a secantusdb server of our own on a free port."""
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"], None
        return
    port = free_port()
    log_path = workdir / "secantus.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "servicekit.devmongo",  # secantusdb, reaping abandoned transactions sooner
                "--port",
                str(port),
                "--storage-path",
                str(workdir / "db"),
                "--log-level",
                "WARNING",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _OWNED_PIDS.append(proc.pid)
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"secantusdb exited: {log_path.read_text()[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), 0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("secantusdb did not listen within 30s") from None
                    time.sleep(0.1)
            yield f"mongodb://127.0.0.1:{port}/?directConnection=true", proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            _OWNED_PIDS.remove(proc.pid)


def start_watchdog(seconds: float) -> threading.Timer:
    """Last resort if the event loop itself is stuck: kill what we started and exit."""

    def fire() -> None:
        sys.stderr.write(
            f"\nbench: hard deadline of {seconds:.0f}s passed and the run did not "
            "stop; killing the server it started and exiting\n"
        )
        for pid in list(_OWNED_PIDS):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        sys.stderr.flush()
        os._exit(EXIT_HARD_TIMEOUT)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


class MongoCommandTally(monitoring.CommandListener):
    """Counts the kit's Mongo commands by (command, collection) while `active`."""

    def __init__(self) -> None:
        self.active = False
        self.count: defaultdict[str, int] = defaultdict(int)
        self.micros: defaultdict[str, int] = defaultdict(int)
        self._names: dict[int, str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.active:
            target = event.command.get(event.command_name)
            name = (
                f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
            )
            self._names[event.request_id] = name

    def _done(self, request_id: int, micros: int) -> None:
        name = self._names.pop(request_id, None)
        if name is not None:
            self.count[name] += 1
            self.micros[name] += micros

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._done(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event.request_id, event.duration_micros)


# ---------------------------------------------------------------------------------------
# 1. raw aio-pika round trip


@dataclass
class RawResult:
    label: str
    publish_wall: float
    total_wall: float
    latency: Dist
    cpu: CpuMeter
    unloaded: Dist | None


def sample_body() -> bytes:
    """A body the size of a real kit envelope, so both sides move the same bytes."""
    envelope = EventEnvelope.wrap(
        BenchPinged(seq=0, sent_at_ns=time.time_ns()),
        producer=SERVICE,
        aggregate_type=Pinger.aggregate_type,
        aggregate_id="pinger-0000",
        aggregate_version=1,
    )
    return json.dumps(envelope.model_dump(mode="json"), separators=(",", ":")).encode()


async def raw_round_trip(
    url: str,
    unique: str,
    *,
    n: int,
    warmup: int,
    probes: int,
    concurrency: int,
    prefetch: int,
    quorum: bool,
    deadline: float,
    progress: Progress,
    pids: tuple[int | None, int | None],
) -> RawResult:
    kind = "quorum" if quorum else "classic"
    name = f"bench.raw.{unique}.{kind}"
    body = sample_body()
    connection = await aio_pika.connect(url)
    try:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=prefetch)
        exchange = await publish_channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await consume_channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"} if quorum else None
        )
        try:
            await queue.bind(name, routing_key="BenchRaw")
            started: dict[int, int] = {}
            arrivals = Arrivals()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                arrivals.arrived(int(message.message_id or "-1"))
                await message.ack()

            tag = await queue.consume(on_message)

            async def publish(seq: int) -> None:
                started[seq] = time.perf_counter_ns()
                await exchange.publish(
                    aio_pika.Message(
                        body,
                        message_id=str(seq),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key="BenchRaw",
                    mandatory=True,
                    timeout=10.0,
                )

            async def batch(seqs: range, workers: int) -> None:
                arrivals.expect(seqs)
                await run_workers(seqs, workers, publish)
                await wait_for_event(arrivals.complete, deadline, progress)

            progress.detail = lambda: f"{arrivals.count} consumed of the batch"
            progress.phase = f"raw {kind}: warm-up"
            await batch(range(-warmup, 0), concurrency)

            unloaded: Dist | None = None
            if probes:
                progress.phase = f"raw {kind}: one at a time"
                for seq in range(PROBE_BASE, PROBE_BASE + probes):
                    await batch(range(seq, seq + 1), 1)
                unloaded = Dist.of_ns(
                    [arrivals.at[s] - started[s] for s in range(PROBE_BASE, PROBE_BASE + probes)]
                )

            progress.phase = f"raw {kind}: {n} messages, {concurrency} publishers"
            with CpuMeter(*pids) as cpu:
                t0 = time.perf_counter_ns()
                arrivals.expect(range(n))
                await run_workers(range(n), concurrency, publish)
                t_published = time.perf_counter_ns()
                await wait_for_event(arrivals.complete, deadline, progress)
            await queue.cancel(tag)
            return RawResult(
                label=f"raw aio-pika, {kind} durable queue",
                publish_wall=(t_published - t0) / 1e9,
                total_wall=(max(arrivals.at[s] for s in range(n)) - t0) / 1e9,
                latency=Dist.of_ns([arrivals.at[s] - started[s] for s in range(n)]),
                cpu=cpu,
                unloaded=unloaded,
            )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.delete(if_unused=False, if_empty=False), 10)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(exchange.delete(), 10)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), 10)


# ---------------------------------------------------------------------------------------
# 2-4. the kit


@dataclass
class KitResult:
    append_wall: float
    total_wall: float
    all_published_after: float | None
    command: Dist
    after_commit: Dist
    e2e: Dist
    relay_lag: Dist | None
    sent_to_handled: Dist | None
    unloaded: Dist | None
    unloaded_command: Dist | None
    conflicts: float
    handler_calls: int
    out_of_order: int
    cpu: CpuMeter
    mongo_commands: list[tuple[str, int, int]]  # (command, count, total micros)
    log_lines: int = 0
    log_problems: list[str] = field(default_factory=list)


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


PUBLISHED = ("outbox_published_total", {"service": SERVICE, "event_type": BenchPinged.event_type})
CONFLICTS = ("event_append_conflicts_total", {"service": SERVICE})


@dataclass
class OrderWatch:
    """Handler runs that saw an aggregate's version after a later version of it."""

    latest: dict[str, int] = field(default_factory=dict)
    inversions: int = 0

    def saw(self, aggregate_id: str, version: int) -> None:
        if version < self.latest.get(aggregate_id, 0):
            self.inversions += 1
        self.latest[aggregate_id] = max(version, self.latest.get(aggregate_id, 0))


def build_runtime(
    settings: ServiceSettings, arrivals: Arrivals, order: OrderWatch
) -> ServiceRuntime:
    """A runtime with one idempotent consumer of `BenchPinged`."""
    rt = ServiceRuntime(settings)

    @rt.consumer(BenchPinged.event_type)
    async def on_ping(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, BenchPinged)
        order.saw(envelope.aggregate_id, envelope.aggregate_version)
        await rt.db["bench_effects"].update_one(
            {"_id": envelope.aggregate_id},
            {"$inc": {"pings": 1}, "$max": {"last_seq": event.seq}},
            upsert=True,
            session=session,
        )
        arrivals.arrived(event.seq)

    return rt


async def mongo_breakdown(rt: ServiceRuntime, n: int) -> tuple[Dist | None, Dist | None]:
    """outbox created_at -> sent_at and sent_at -> inbox handled_at of the loaded run's
    events, in ms (BSON dates have millisecond resolution)."""
    sent: dict[str, tuple[datetime, datetime]] = {}
    async for row in rt.db["outbox"].find(
        {"event_type": BenchPinged.event_type, "envelope.payload.seq": {"$gte": 0, "$lt": n}},
        projection={"created_at": 1, "sent_at": 1},
    ):
        if row.get("sent_at"):
            sent[row["_id"]] = (row["created_at"], row["sent_at"])
    relay: list[float] = []
    onward: list[float] = []
    async for row in rt.db["inbox"].find({"event_type": BenchPinged.event_type}):
        event_id = str(row["_id"]).rsplit(":", 1)[-1]
        if event_id in sent:
            created, sent_at = sent[event_id]
            relay.append((sent_at - created).total_seconds() * 1e3)
            onward.append((row["handled_at"] - sent_at).total_seconds() * 1e3)
    return (Dist.of(relay) if relay else None), (Dist.of(onward) if onward else None)


def redirect_kit_logs(path: Path) -> Callable[[], None]:
    """The kit logs JSON lines to stdout (one per consumed event at INFO): keep their cost,
    write them to `path`. Returns the function that closes the file."""
    stream = path.open("w")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    return stream.close


async def measure_kit(
    rt: ServiceRuntime,
    arrivals: Arrivals,
    order: OrderWatch,
    *,
    n: int,
    warmup: int,
    probes: int,
    aggregates: int,
    concurrency: int,
    deadline: float,
    progress: Progress,
    pids: tuple[int | None, int | None],
    tally: MongoCommandTally | None,
    profile_path: str | None,
) -> KitResult:
    """Warm-up, one-at-a-time probes, then the loaded run, on a started runtime."""
    repo = Repository(rt.store, Pinger)
    started: dict[int, int] = {}
    committed: dict[int, int] = {}

    def aggregate_of(seq: int) -> str:
        if seq < 0:
            return f"warm-{-seq % aggregates:04d}"
        if seq >= PROBE_BASE:
            return f"probe-{seq % aggregates:04d}"
        return f"pinger-{seq % aggregates:04d}"

    async def append(seq: int) -> None:
        aggregate_id = aggregate_of(seq)
        started[seq] = time.perf_counter_ns()

        async def work(session: AsyncClientSession) -> None:
            pinger = await repo.get(aggregate_id, session=session) or Pinger(aggregate_id)
            pinger.ping(seq)
            await repo.save(pinger, session)

        await rt.command(work)
        committed[seq] = time.perf_counter_ns()

    async def batch(seqs: range, workers: int) -> None:
        arrivals.expect(seqs)
        await run_workers(seqs, workers, append)
        await wait_for_event(arrivals.complete, deadline, progress)

    progress.detail = lambda: (
        f"{arrivals.count} of the batch handled; relay published "
        f"{metric(*PUBLISHED):.0f} events so far, warm-up and probes included"
    )
    # warm-up on aggregates of its own (pooled connections, queue leader, code paths)
    progress.phase = "kit: warm-up"
    await batch(range(-warmup, 0), concurrency)

    unloaded: Dist | None = None
    unloaded_command: Dist | None = None
    if probes:
        progress.phase = "kit: one at a time"
        probe_seqs = range(PROBE_BASE, PROBE_BASE + probes)
        for seq in probe_seqs:
            await batch(range(seq, seq + 1), 1)
        unloaded = Dist.of_ns([arrivals.at[s] - started[s] for s in probe_seqs])
        unloaded_command = Dist.of_ns([committed[s] - started[s] for s in probe_seqs])

    progress.phase = f"kit: {n} events, {concurrency} concurrent commands"
    conflicts_before = metric(*CONFLICTS)
    published_before = metric(*PUBLISHED)
    calls_before = arrivals.calls
    order.inversions = 0
    all_published: list[int] = []

    async def watch_publishing() -> None:
        while metric(*PUBLISHED) - published_before < n:
            await asyncio.sleep(0.005)
        all_published.append(time.perf_counter_ns())

    profiler = cProfile.Profile() if profile_path else None
    watcher = asyncio.create_task(watch_publishing())
    if tally:
        tally.active = True
    try:
        with CpuMeter(*pids) as cpu:
            t0 = time.perf_counter_ns()
            if profiler:
                profiler.enable()
            try:
                arrivals.expect(range(n))
                await run_workers(range(n), concurrency, append)
                t_appended = time.perf_counter_ns()
                await wait_for_event(arrivals.complete, deadline, progress)
            finally:
                if profiler:
                    profiler.disable()
    finally:
        watcher.cancel()
        if tally:
            tally.active = False
    if profiler and profile_path:
        profiler.dump_stats(profile_path)

    progress.phase = "kit: reading back outbox and inbox"
    relay_lag, sent_to_handled = await mongo_breakdown(rt, n)
    seqs = range(n)
    commands = [(name, c, tally.micros[name]) for name, c in tally.count.items()] if tally else []
    return KitResult(
        append_wall=(t_appended - t0) / 1e9,
        total_wall=(max(arrivals.at[s] for s in seqs) - t0) / 1e9,
        all_published_after=(all_published[0] - t0) / 1e9 if all_published else None,
        command=Dist.of_ns([committed[s] - started[s] for s in seqs]),
        after_commit=Dist.of_ns([arrivals.at[s] - committed[s] for s in seqs]),
        e2e=Dist.of_ns([arrivals.at[s] - started[s] for s in seqs]),
        relay_lag=relay_lag,
        sent_to_handled=sent_to_handled,
        unloaded=unloaded,
        unloaded_command=unloaded_command,
        conflicts=metric(*CONFLICTS) - conflicts_before,
        handler_calls=arrivals.calls - calls_before,
        out_of_order=order.inversions,
        cpu=cpu,
        mongo_commands=sorted(commands, key=lambda item: -item[1]),
    )


async def kit_round_trip(
    settings: ServiceSettings,
    *,
    n: int,
    warmup: int,
    probes: int,
    aggregates: int,
    concurrency: int,
    deadline: float,
    progress: Progress,
    pids: tuple[int | None, int | None],
    log_path: Path,
    tally: MongoCommandTally | None,
    profile_path: str | None,
) -> KitResult:
    """Run the kit in-process on its own database, exchange and queues, measure, clean up."""
    arrivals = Arrivals()
    order = OrderWatch()
    rt = build_runtime(settings, arrivals, order)
    close_log = redirect_kit_logs(log_path)
    app = rt.create_app()
    queues = [c.queue_name for c in rt.consumers.consumers]
    queues += [c.parked_queue_name for c in rt.consumers.consumers]
    ready_timeout = max(1.0, min(60.0, deadline - asyncio.get_running_loop().time()))
    try:
        progress.phase = "kit: start-up (waiting for /readyz)"
        async with running(app, ready_timeout=ready_timeout):
            try:
                result = await measure_kit(
                    rt,
                    arrivals,
                    order,
                    n=n,
                    warmup=warmup,
                    probes=probes,
                    aggregates=aggregates,
                    concurrency=concurrency,
                    deadline=deadline,
                    progress=progress,
                    pids=pids,
                    tally=tally,
                    profile_path=profile_path,
                )
            finally:
                progress.phase = "kit: shutdown"
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(rt.client.drop_database(settings.database), 15)
    finally:
        # `running` deletes them too, but not when its body raised (a timeout, say)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                delete_test_topology(
                    settings.rabbitmq_url, settings.queue_prefix, queues, settings.events_exchange
                ),
                15,
            )
        close_log()
    lines = log_path.read_text(errors="replace").splitlines()
    result.log_lines = len(lines)
    result.log_problems = [
        ln for ln in lines if '"level": "warning"' in ln or '"level": "error"' in ln
    ]
    return result


# ---------------------------------------------------------------------------------------
# report


def times(kit: float, raw: float) -> str:
    return f"{kit / raw:.1f}x" if raw else "n/a"


def rate_ratio(what: str, kit: float, raw_what: str, raw: float) -> str:
    slower = f"raw is {raw / kit:.1f}x faster" if kit else "kit did nothing"
    return f"kit {what} {kit:,.0f} vs raw {raw_what} {raw:,.0f}: {slower} (kit at {kit / raw:.1%})"


def report(
    args: argparse.Namespace,
    mongo_desc: str,
    rabbit_desc: str,
    raws: list[RawResult],
    kit: KitResult,
) -> str:
    n = args.events
    out: list[str] = [
        "servicekit event kit benchmark",
        f"machine: nproc={os.cpu_count()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()} "
        f"{platform.machine()}",
        f"mongo: {mongo_desc}; rabbitmq: {rabbit_desc}",
        f"N={n} events over {args.aggregates} aggregates, concurrency={args.concurrency}, "
        f"prefetch={args.prefetch}, warm-up={args.warmup}, probes={args.probes}, "
        f"outbox poll={args.outbox_poll}s batch={args.outbox_batch}",
        "",
    ]
    header = f"{'':46} {'rate/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    out += [header, "-" * len(header)]

    def row(label: str, rate: float | None, dist: Dist | None) -> None:
        rate_s = f"{rate:8,.0f}" if rate is not None else " " * 8
        if dist is None:
            out.append(f"{label:46} {rate_s}")
        else:
            out.append(f"{label:46} {rate_s} {dist.p50:8.1f} {dist.p99:8.1f} {dist.max:8.1f}")

    for raw in raws:
        out.append(raw.label)
        row("  publishes/s; publish -> consumer callback", n / raw.publish_wall, raw.latency)
        row("  consumed/s", n / raw.total_wall, None)
        if raw.unloaded:
            row("  one at a time: publish -> callback", None, raw.unloaded)
    out.append("kit: rt.command -> outbox relay -> consumer")
    row("  appends/s; command (load+record+save, txn)", n / kit.append_wall, kit.command)
    row("  commit -> handler done", None, kit.after_commit)
    row("    outbox created_at -> sent_at (mongo, ms)", None, kit.relay_lag)
    row("    sent_at -> inbox handled_at (mongo, ms)", None, kit.sent_to_handled)
    row("  consumed/s; e2e command start -> handler", n / kit.total_wall, kit.e2e)
    if kit.unloaded and kit.unloaded_command:
        row("  one at a time: command", None, kit.unloaded_command)
        row("  one at a time: e2e command start -> handler", None, kit.unloaded)
    out += ["", "ratios (the quorum baseline has the kit's queue type):"]
    for raw in raws:
        kind = raw.label.split(", ")[1]
        out.append(f"  vs {kind}:")
        out.append(
            "    "
            + rate_ratio("appends/s", n / kit.append_wall, "publishes/s", n / raw.publish_wall)
        )
        out.append(
            "    " + rate_ratio("consumed/s", n / kit.total_wall, "consumed/s", n / raw.total_wall)
        )
        out.append(
            f"    kit e2e p50 is {times(kit.e2e.p50, raw.latency.p50)} the raw broker "
            f"round trip, p99 is {times(kit.e2e.p99, raw.latency.p99)}"
        )
        if raw.unloaded and kit.unloaded:
            out.append(
                f"    one at a time: kit e2e p50 is {times(kit.unloaded.p50, raw.unloaded.p50)}"
                f" the raw round trip, p99 is {times(kit.unloaded.p99, raw.unloaded.p99)}"
            )
    published = (
        f"{kit.all_published_after:.2f}s" if kit.all_published_after is not None else "not seen"
    )
    out += [
        "",
        "where the time went:",
        f"  kit: all {n} committed after {kit.append_wall:.2f}s, published after {published}, "
        f"handled after {kit.total_wall:.2f}s",
        f"  kit cpu {kit.cpu.render()}",
        *(f"  {raw.label} cpu {raw.cpu.render()}" for raw in raws),
        f"  kit: {kit.conflicts:.0f} append conflicts (retried), {kit.handler_calls} handler runs "
        f"for {n} events, {kit.out_of_order} handler runs on an aggregate after a later version "
        f"of it, {kit.log_lines} kit log lines ({len(kit.log_problems)} warnings/errors)",
    ]
    out += [f"    {line[:300]}" for line in kit.log_problems[:5]]
    if kit.mongo_commands:
        total = sum(c for _, c, _ in kit.mongo_commands)
        out.append(
            f"  kit mongo commands in the loaded run: {total} = {total / n:.1f} per event "
            "(count, per event, mean round trip as the client saw it)"
        )
        for name, count, micros in kit.mongo_commands:
            out.append(f"    {name:34} {count:7} {count / n:6.2f} {micros / count / 1e3:8.2f} ms")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# main


def rabbit_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), 2):
            return True
    except OSError:
        return False


async def rabbit_version(url: str) -> str:
    connection = await aio_pika.connect(url)
    async with connection:
        underlay = getattr(connection.transport, "connection", None)
        version = (getattr(underlay, "server_properties", None) or {}).get("version", "?")
        return version.decode() if isinstance(version, bytes) else str(version)


async def run(
    args: argparse.Namespace,
    mongo_uri: str,
    mongo_pid: int | None,
    workdir: Path,
    progress: Progress,
    deadline: float,
) -> str:
    unique = uuid.uuid4().hex[:10]
    url: str = args.rabbitmq_url
    pids = (mongo_pid, find_pid("beam.smp"))
    progress.phase = "connecting to RabbitMQ"
    parsed = urlparse(url)
    rabbit_desc = f"RabbitMQ {await rabbit_version(url)} at {parsed.hostname}:{parsed.port or 5672}"
    mongo_desc = (
        f"secantusdb {importlib.metadata.version('secantusdb')}, started by the bench"
        if mongo_pid
        else f"MONGO_URI at {urlparse(mongo_uri).hostname}"
    )

    raws = [
        await raw_round_trip(
            url,
            unique,
            n=args.events,
            warmup=args.warmup,
            probes=args.probes if quorum else 0,
            concurrency=args.concurrency,
            prefetch=args.prefetch,
            quorum=quorum,
            deadline=deadline,
            progress=progress,
            pids=pids,
        )
        for quorum in (False, True)
    ]
    settings = ServiceSettings(
        service_name=SERVICE,
        environment="test",
        mongo_uri=mongo_uri,
        mongo_db=f"bench_{unique}",
        rabbitmq_url=url,
        events_exchange=f"mi.events.b{unique}",
        queue_prefix=f"b{unique}.",
        data_dir=workdir,
        prefetch=args.prefetch,
        outbox_poll_seconds=args.outbox_poll,
        outbox_batch=args.outbox_batch,
        log_level=args.kit_log_level,
        log_json=True,
    )
    tally = MongoCommandTally() if args.trace_mongo else None
    if tally:
        monitoring.register(tally)  # before the kit creates its client
    kit = await kit_round_trip(
        settings,
        n=args.events,
        warmup=args.warmup,
        probes=args.probes,
        aggregates=args.aggregates,
        concurrency=args.concurrency,
        deadline=deadline,
        progress=progress,
        pids=pids,
        log_path=workdir / "kit.log",
        tally=tally,
        profile_path=args.profile,
    )
    return report(args, mongo_desc, rabbit_desc, raws, kit)


async def amain(
    args: argparse.Namespace,
    mongo_uri: str,
    mongo_pid: int | None,
    workdir: Path,
    progress: Progress,
) -> str:
    deadline = asyncio.get_running_loop().time() + args.deadline
    try:
        async with asyncio.timeout_at(deadline):
            return await run(args, mongo_uri, mongo_pid, workdir, progress, deadline)
    except TimeoutError as exc:
        raise PhaseTimeout(progress.describe()) from exc


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Event kit (append -> outbox -> RabbitMQ -> consumer) vs raw aio-pika.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--events", type=int, default=2000, help="N events (and raw messages)")
    add("--aggregates", type=int, default=200, help="streams the events are spread over")
    add("--concurrency", type=int, default=16, help="concurrent commands / publishers")
    add("--prefetch", type=int, default=16, help="consumer prefetch (the kit's default)")
    add("--warmup", type=int, default=64, help="warm-up events before each measurement")
    add("--probes", type=int, default=30, help="one-at-a-time round trips (0: skip)")
    add("--outbox-poll", type=float, default=0.2, help="relay poll seconds (kit default)")
    add("--outbox-batch", type=int, default=100, help="relay batch size (kit default)")
    add("--kit-log-level", default="INFO", help="the kit's log level (logs go to a file)")
    add("--deadline", type=float, default=300.0, help="overall time bound in seconds")
    add("--trace-mongo", action="store_true", help="count the kit's Mongo commands per event")
    add("--profile", metavar="FILE", help="cProfile the kit's loaded phase into FILE")
    add(
        "--rabbitmq-url",
        default=os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
        help="RabbitMQ (default: $RABBITMQ_URL)",
    )
    args = parser.parse_args(argv)
    for name in ("events", "aggregates", "concurrency", "prefetch", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.probes < 0:
        parser.error("--probes must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    watchdog = start_watchdog(args.deadline + 60)
    if not rabbit_reachable(args.rabbitmq_url):
        print(
            f"bench: RabbitMQ is not reachable at {args.rabbitmq_url} "
            "(start it with `rabbitmq-server -detached`)",
            file=sys.stderr,
        )
        return 1
    progress = Progress()
    workdir = Path(tempfile.mkdtemp(prefix="bench-eventkit-"))
    try:
        with mongo_server(workdir) as (mongo_uri, mongo_pid):
            try:
                text = asyncio.run(amain(args, mongo_uri, mongo_pid, workdir, progress))
            except PhaseTimeout as exc:
                print(
                    f"bench: TIMEOUT: --deadline {args.deadline:.0f}s passed "
                    f"{time.monotonic() - began:.0f}s into the run, during {exc}",
                    file=sys.stderr,
                )
                return EXIT_TIMEOUT
        print(text)
        if args.profile:
            print(f"\ncProfile of the kit's loaded phase in {args.profile}; top 20 by own time:")
            pstats.Stats(args.profile, stream=sys.stdout).sort_stats("tottime").print_stats(20)
        print(f"\ntotal run time {time.monotonic() - began:.1f}s")
        return 0
    finally:
        watchdog.cancel()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
