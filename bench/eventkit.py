"""Benchmark of servicekit's event kit against a raw aio-pika round trip, in one run.

What is measured (N events, default 2000, spread over `--aggregates` streams, pushed by
`--concurrency` concurrent workers):

1. raw broker baseline (aio-pika alone): a temporary topic exchange and a temporary
   durable queue (classic, and quorum like the kit's work queues); N persistent messages
   published with publisher confirms and `mandatory`, each awaited for its confirm, by the
   same number of concurrent publishers; a consumer with the kit's prefetch and manual ack
   notes when each message arrives. Reports publishes/s, consumed/s and publish -> consume
   latency (from just before `publish` to the consumer callback).
2. kit appends: every event is one `rt.command(work)` -- a Mongo transaction that loads the
   aggregate from its stream, records one `BenchPinged`, and saves it (events row + outbox
   row) -- with the outbox relay and the consumer running at the same time. Appends/s is N
   over the wall time from the first command start to the last commit.
3. kit end to end: a `@rt.consumer("BenchPinged")` handler (inbox row + an `$inc` on a
   per-aggregate document in the same transaction, i.e. a real idempotent consumer) notes
   `time.perf_counter_ns()` after its write, keyed by the event's `seq`. Latency is from just
   before the event's command starts to that moment; the split into command time and
   commit -> handler time is shown too, plus outbox/inbox timestamps read back from Mongo
   (`created_at` -> `sent_at` -> `handled_at`, millisecond resolution).

CPU seconds burnt by this process, by the Mongo-wire server (when this script started it)
and by RabbitMQ (`beam.smp`, when visible in /proc) during each phase are printed as well,
because on a small machine they compete for the same cores.

The kit runs in-process through `servicekit.testing.running(app)` with its own database,
exchange and queue prefix; queues and exchanges are deleted at the end, and the database is
dropped. The kit's JSON logs (INFO by default, as in production) go to a file, not stdout.

Run (RabbitMQ must be up; a secantusdb server is started in a temp dir unless MONGO_URI is
set)::

    cd /work/main && uv run python bench/eventkit.py                 # N=2000
    uv run python bench/eventkit.py --events 200 --concurrency 16
    uv run python bench/eventkit.py --profile /tmp/append.prof       # cProfile the kit phase

Everything is bounded by `--deadline` seconds (default 300); on a timeout the script says
which phase was stuck and how far it got, and exits with status 2.
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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import aio_pika
from contracts import DomainEvent, EventEnvelope
from contracts.events import event
from servicekit.eventstore import Aggregate, Repository
from servicekit.metrics import REGISTRY
from servicekit.mongo import AsyncClientSession
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings
from servicekit.testing import DEFAULT_RABBITMQ_URL, delete_test_topology, free_port, running

SERVICE = "bench"
EXIT_TIMEOUT = 2
EXIT_HARD_TIMEOUT = 3


# ---------------------------------------------------------------------------------------
# the bench's own tiny domain


@event
class BenchPinged(DomainEvent):
    """One ping; `seq` identifies it within a run, `sent_at_ns` is wall-clock send time."""

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
# small helpers


class PhaseTimeout(Exception):
    """A phase did not finish before the overall deadline."""


@dataclass
class Progress:
    """What the run is doing, for the timeout message."""

    phase: str = "starting"
    detail: Callable[[], str] = field(default=lambda: "")

    def describe(self) -> str:
        extra = self.detail()
        return f"{self.phase}{': ' + extra if extra else ''}"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Dist:
    """Latency distribution in milliseconds."""

    p50: float
    p99: float
    max: float

    @classmethod
    def of_ns(cls, values_ns: Sequence[int]) -> Dist:
        ms = [v / 1e6 for v in values_ns]
        return cls(percentile(ms, 50), percentile(ms, 99), max(ms))

    @classmethod
    def of_ms(cls, values_ms: Sequence[float]) -> Dist | None:
        return (
            cls(percentile(values_ms, 50), percentile(values_ms, 99), max(values_ms))
            if values_ms
            else None
        )


def cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process from /proc, or None when it cannot be read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def find_pid(comm: str) -> int | None:
    """First process whose /proc comm is `comm` (read only; used for CPU accounting)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == comm:
                    return int(entry.name)
            except OSError:
                continue
    return None


@dataclass
class CpuMeter:
    """CPU seconds used by this process, the Mongo server and RabbitMQ over one phase."""

    mongo_pid: int | None
    rabbit_pid: int | None
    start: dict[str, float | None] = field(default_factory=dict)
    used: dict[str, float | None] = field(default_factory=dict)
    wall: float = 0.0
    _t0: float = 0.0

    def _sample(self) -> dict[str, float | None]:
        return {
            "bench": time.process_time(),
            "mongo": cpu_seconds(self.mongo_pid),
            "rabbitmq": cpu_seconds(self.rabbit_pid),
        }

    def __enter__(self) -> CpuMeter:
        self.start = self._sample()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._t0
        end = self._sample()
        for name, before in self.start.items():
            after = end[name]
            self.used[name] = None if before is None or after is None else after - before

    def render(self) -> str:
        parts = [
            f"{name} {v:.1f}s ({v / self.wall:.0%})"
            for name, v in self.used.items()
            if v is not None and self.wall > 0
        ]
        return f"cpu over {self.wall:.1f}s wall: " + ", ".join(parts)


async def wait_for_event(flag: asyncio.Event, deadline: float, progress: Progress) -> None:
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(flag.wait(), timeout=max(remaining, 0.001))
    except TimeoutError as exc:
        raise PhaseTimeout(progress.describe()) from exc


async def run_workers(n: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> None:
    """`concurrency` workers pull sequence numbers 0..n-1 and run `job` on each."""
    counter: Iterator[int] = iter(range(n))

    async def worker() -> None:
        for seq in counter:  # shared iterator: safe, the loop is single-threaded
            await job(seq)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())


# ---------------------------------------------------------------------------------------
# Mongo-wire server


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
                "secantus",
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
                        raise RuntimeError(
                            "secantusdb did not accept connections within 30s"
                        ) from None
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


_OWNED_PIDS: list[int] = []


def start_watchdog(seconds: float) -> threading.Timer:
    """Last resort if the event loop itself is stuck: kill what we started and exit."""

    def fire() -> None:
        sys.stderr.write(
            f"\nbench: hard deadline of {seconds:.0f}s passed with the event loop "
            "unresponsive; killing the servers it started and exiting\n"
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


# ---------------------------------------------------------------------------------------
# 1. raw aio-pika round trip


@dataclass
class RawResult:
    label: str
    publish_wall: float
    total_wall: float
    latency: Dist
    cpu: CpuMeter

    def publishes_per_s(self, n: int) -> float:
        return n / self.publish_wall

    def consumed_per_s(self, n: int) -> float:
        return n / self.total_wall


def sample_body() -> bytes:
    """A body the size of a real kit envelope, so both sides move the same bytes."""
    envelope = EventEnvelope.wrap(
        BenchPinged(seq=0, sent_at_ns=time.time_ns()),
        producer=SERVICE,
        aggregate_type=Pinger.aggregate_type,
        aggregate_id="pinger-000",
        aggregate_version=1,
    )
    return json.dumps(envelope.model_dump(mode="json"), separators=(",", ":")).encode()


async def raw_round_trip(
    url: str,
    unique: str,
    *,
    n: int,
    warmup: int,
    concurrency: int,
    prefetch: int,
    quorum: bool,
    deadline: float,
    progress: Progress,
    pids: tuple[int | None, int | None],
) -> RawResult:
    kind = "quorum" if quorum else "classic"
    exchange_name = f"bench.raw.{unique}.{kind}"
    queue_name = f"bench.raw.{unique}.{kind}"
    body = sample_body()
    connection = await aio_pika.connect(url)
    try:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=prefetch)
        exchange = await publish_channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await consume_channel.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": "quorum"} if quorum else None
        )
        try:
            await queue.bind(exchange_name, routing_key="BenchRaw")
            started: dict[int, int] = {}
            received: dict[int, int] = {}
            expected = n
            all_in = asyncio.Event()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                seq = int(message.message_id or "-1")
                received.setdefault(seq, time.perf_counter_ns())
                await message.ack()
                if len(received) >= expected:
                    all_in.set()

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

            progress.detail = lambda: (
                f"published {len(started)}, consumed {len(received)} of {expected}"
            )
            # warm-up: connection buffers, queue leader, code paths
            progress.phase = f"raw {kind} warm-up"
            expected = warmup
            await run_workers(warmup, concurrency, lambda s: publish(-1 - s))
            await wait_for_event(all_in, deadline, progress)
            started.clear()
            received.clear()
            all_in.clear()
            expected = n

            progress.phase = f"raw {kind} round trip"
            with CpuMeter(*pids) as cpu:
                t0 = time.perf_counter_ns()
                await run_workers(n, concurrency, publish)
                t_published = time.perf_counter_ns()
                await wait_for_event(all_in, deadline, progress)
            last = max(received.values())
            await queue.cancel(tag)
            return RawResult(
                label=f"raw aio-pika, {kind} durable queue",
                publish_wall=(t_published - t0) / 1e9,
                total_wall=(last - t0) / 1e9,
                latency=Dist.of_ns([received[s] - started[s] for s in range(n)]),
                cpu=cpu,
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
# 2 + 3. the kit


@dataclass
class KitRecorder:
    """What the bench notes per event, keyed by `seq` (warm-up events have negative seqs)."""

    started: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)
    handled: dict[int, int] = field(default_factory=dict)
    handler_calls: int = 0
    lo: int = 0  # the batch being waited for is lo <= seq < hi
    hi: int = 0
    count: int = 0
    all_handled: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, lo: int, hi: int) -> None:
        self.lo, self.hi, self.count = lo, hi, 0
        self.all_handled.clear()

    def saw(self, seq: int) -> None:
        self.handler_calls += 1
        if seq in self.handled:
            return  # the same event again (transaction retry or redelivery): keep the first
        self.handled[seq] = time.perf_counter_ns()
        if self.lo <= seq < self.hi:
            self.count += 1
            if self.count >= self.hi - self.lo:
                self.all_handled.set()


@dataclass
class KitResult:
    append_wall: float
    total_wall: float
    command: Dist
    e2e: Dist
    after_commit: Dist
    relay_lag: Dist | None
    broker_and_consume: Dist | None
    conflicts: float
    handler_calls: int
    all_published_after: float | None
    cpu: CpuMeter
    log_lines: int = 0
    log_problems: list[str] = field(default_factory=list)

    def appends_per_s(self, n: int) -> float:
        return n / self.append_wall

    def consumed_per_s(self, n: int) -> float:
        return n / self.total_wall


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


PUBLISHED = ("outbox_published_total", {"service": SERVICE, "event_type": BenchPinged.event_type})
CONFLICTS = ("event_append_conflicts_total", {"service": SERVICE})


def build_runtime(settings: ServiceSettings, rec: KitRecorder) -> ServiceRuntime:
    """A runtime with one idempotent consumer of `BenchPinged`."""
    rt = ServiceRuntime(settings)

    @rt.consumer(BenchPinged.event_type)
    async def on_ping(
        event: DomainEvent, envelope: EventEnvelope, session: AsyncClientSession
    ) -> None:
        assert isinstance(event, BenchPinged)
        await rt.db["bench_effects"].update_one(
            {"_id": envelope.aggregate_id},
            {"$inc": {"pings": 1}, "$max": {"last_seq": event.seq}},
            upsert=True,
            session=session,
        )
        rec.saw(event.seq)

    return rt


async def mongo_breakdown(rt: ServiceRuntime) -> tuple[Dist | None, Dist | None]:
    """outbox created_at -> sent_at and sent_at -> inbox handled_at of the measured events, in
    ms (BSON dates have millisecond resolution)."""
    sent: dict[str, tuple[datetime, datetime]] = {}
    async for row in rt.db["outbox"].find(
        {"event_type": BenchPinged.event_type, "envelope.payload.seq": {"$gte": 0}},
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
    return Dist.of_ms(relay), Dist.of_ms(onward)


async def kit_round_trip(
    settings: ServiceSettings,
    *,
    n: int,
    warmup: int,
    aggregates: int,
    concurrency: int,
    deadline: float,
    progress: Progress,
    pids: tuple[int | None, int | None],
    log_path: Path,
    profile_path: str | None,
) -> KitResult:
    rec = KitRecorder()
    rt = build_runtime(settings, rec)
    # The kit logs JSON lines to stdout at INFO (one per consumed event): keep their cost,
    # send them to a file instead of the terminal.
    log_stream = open(log_path, "w")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_stream)
    app = rt.create_app()
    queues = [c.queue_name for c in rt.consumers.consumers]
    queues += [c.parked_queue_name for c in rt.consumers.consumers]
    loop = asyncio.get_running_loop()
    try:
        progress.phase = "kit start-up (waiting for /readyz)"
        async with running(app, ready_timeout=max(1.0, min(60.0, deadline - loop.time()))):
            repo = Repository(rt.store, Pinger)

            async def append(seq: int) -> None:
                prefix = "pinger" if seq >= 0 else "warm"
                aggregate_id = f"{prefix}-{abs(seq) % aggregates:04d}"
                rec.started[seq] = time.perf_counter_ns()

                async def work(session: AsyncClientSession) -> None:
                    pinger = await repo.get(aggregate_id, session=session) or Pinger(aggregate_id)
                    pinger.ping(seq)
                    await repo.save(pinger, session)

                await rt.command(work)
                rec.committed[seq] = time.perf_counter_ns()

            progress.detail = lambda: (
                f"committed {sum(1 for s in rec.committed if rec.lo <= s < rec.hi)}, "
                f"handled {rec.count} of {rec.hi - rec.lo}; "
                f"relay published {metric(*PUBLISHED):.0f} in all (warm-up included)"
            )

            # warm-up on aggregates of its own (pool connections, queue leader, code paths)
            progress.phase = "kit warm-up"
            rec.expect(-warmup, 0)
            await run_workers(warmup, concurrency, lambda s: append(-1 - s))
            await wait_for_event(rec.all_handled, deadline, progress)

            progress.phase = "kit append + relay + consume"
            conflicts_before = metric(*CONFLICTS)
            published_before = metric(*PUBLISHED)
            calls_before = rec.handler_calls
            rec.expect(0, n)
            all_published: list[int] = []

            async def watch_publishing() -> None:
                while metric(*PUBLISHED) - published_before < n:
                    await asyncio.sleep(0.005)
                all_published.append(time.perf_counter_ns())

            profiler = cProfile.Profile() if profile_path else None
            watcher = asyncio.create_task(watch_publishing())
            try:
                with CpuMeter(*pids) as cpu:
                    t0 = time.perf_counter_ns()
                    if profiler:
                        profiler.enable()
                    try:
                        await run_workers(n, concurrency, append)
                        t_appended = time.perf_counter_ns()
                        await wait_for_event(rec.all_handled, deadline, progress)
                    finally:
                        if profiler:
                            profiler.disable()
            finally:
                watcher.cancel()
            if profiler and profile_path:
                profiler.dump_stats(profile_path)

            progress.phase = "kit read-back"
            relay_lag, onward = await mongo_breakdown(rt)
            seqs = range(n)
            result = KitResult(
                append_wall=(t_appended - t0) / 1e9,
                total_wall=(max(rec.handled[s] for s in seqs) - t0) / 1e9,
                command=Dist.of_ns([rec.committed[s] - rec.started[s] for s in seqs]),
                e2e=Dist.of_ns([rec.handled[s] - rec.started[s] for s in seqs]),
                after_commit=Dist.of_ns([rec.handled[s] - rec.committed[s] for s in seqs]),
                relay_lag=relay_lag,
                broker_and_consume=onward,
                conflicts=metric(*CONFLICTS) - conflicts_before,
                handler_calls=rec.handler_calls - calls_before,
                all_published_after=(all_published[0] - t0) / 1e9 if all_published else None,
                cpu=cpu,
            )
            progress.phase = "kit shutdown"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rt.client.drop_database(settings.database), 15)
    finally:
        # `running` deletes them too, but not when the body raised (e.g. on a timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                delete_test_topology(
                    settings.rabbitmq_url, settings.queue_prefix, queues, settings.events_exchange
                ),
                15,
            )
        log_stream.close()
    lines = log_path.read_text(errors="replace").splitlines()
    result.log_lines = len(lines)
    result.log_problems = [
        ln for ln in lines if '"level": "warning"' in ln or '"level": "error"' in ln
    ]
    return result


# ---------------------------------------------------------------------------------------
# report


def ratio_line(what: str, kit: float, raw: float, unit: str, higher_is_better: bool) -> str:
    times = kit / raw if raw else float("inf")
    if higher_is_better:
        return f"  {what}: kit {kit:,.0f} {unit} vs raw {raw:,.0f} {unit} -> kit is {times:.2f}x raw ({raw / kit:.1f}x slower)"
    return f"  {what}: kit {kit:.1f} {unit} vs raw {raw:.1f} {unit} -> kit is {times:.1f}x the raw broker round trip"


def report(
    args: argparse.Namespace,
    mongo_desc: str,
    rabbit_desc: str,
    raws: list[RawResult],
    kit: KitResult,
) -> str:
    n = args.events
    out: list[str] = []
    out.append("servicekit event kit benchmark")
    out.append(
        f"machine: nproc={os.cpu_count()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}, "
        f"{platform.processor() or platform.machine()}"
    )
    out.append(f"mongo: {mongo_desc}; rabbitmq: {rabbit_desc}")
    out.append(
        f"N={n} events over {args.aggregates} aggregates, concurrency={args.concurrency}, "
        f"prefetch={args.prefetch}, warm-up={args.warmup}, outbox_batch={args.outbox_batch}"
    )
    out.append("")
    header = f"{'':44} {'rate/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"
    out.append(header)
    out.append("-" * len(header))

    def row(label: str, rate: float | None, dist: Dist | None) -> None:
        rate_s = f"{rate:9,.0f}" if rate is not None else f"{'':9}"
        if dist is None:
            out.append(f"{label:44} {rate_s} {'n/a':>9} {'n/a':>9} {'n/a':>9}")
        else:
            out.append(f"{label:44} {rate_s} {dist.p50:9.1f} {dist.p99:9.1f} {dist.max:9.1f}")

    for raw in raws:
        out.append(raw.label)
        row("  publish (confirmed) -> consumer callback", raw.publishes_per_s(n), raw.latency)
        row("  consumed/s over the whole run", raw.consumed_per_s(n), None)
    out.append("kit (append -> outbox relay -> consumer)")
    row("  appends: rt.command (load+record+save)", kit.appends_per_s(n), kit.command)
    row("  commit -> handler done", None, kit.after_commit)
    row("    outbox created_at -> sent_at (mongo)", None, kit.relay_lag)
    row("    sent_at -> inbox handled_at (mongo)", None, kit.broker_and_consume)
    row("  e2e: command start -> handler done", kit.consumed_per_s(n), kit.e2e)
    out.append("")
    out.append("ratios (the quorum baseline matches the kit's queue type):")
    for raw in raws:
        kind = raw.label.split(",")[1].strip()
        out.append(f" vs raw {kind}:")
        out.append(
            ratio_line(
                "appends/s vs raw publishes/s",
                kit.appends_per_s(n),
                raw.publishes_per_s(n),
                "/s",
                True,
            )
        )
        out.append(
            ratio_line(
                "consumed/s vs raw consumed/s",
                kit.consumed_per_s(n),
                raw.consumed_per_s(n),
                "/s",
                True,
            )
        )
        out.append(ratio_line("e2e p50", kit.e2e.p50, raw.latency.p50, "ms", False))
        out.append(ratio_line("e2e p99", kit.e2e.p99, raw.latency.p99, "ms", False))
    out.append("")
    out.append("where the time went:")
    published = (
        f"{kit.all_published_after:.2f}s" if kit.all_published_after is not None else "not seen"
    )
    out.append(
        f"  kit: all appended after {kit.append_wall:.2f}s, all published after {published}, "
        f"all handled after {kit.total_wall:.2f}s"
    )
    out.append(f"  kit: {kit.cpu.render()}")
    for raw in raws:
        out.append(f"  {raw.label}: {raw.cpu.render()}")
    out.append(
        f"  kit: {kit.conflicts:.0f} append conflicts (retried), {kit.handler_calls} handler runs "
        f"for {n} events, {kit.log_lines} kit log lines ({len(kit.log_problems)} warnings/errors)"
    )
    for line in kit.log_problems[:5]:
        out.append(f"    {line[:300]}")
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
        props = getattr(underlay, "server_properties", {}) or {}
        version = props.get("version", b"?")
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
    rabbit_desc = f"RabbitMQ {await rabbit_version(url)} at {urlparse(url).hostname}:{urlparse(url).port or 5672}"
    mongo_desc = (
        f"secantusdb {importlib.metadata.version('secantusdb')} started by the bench"
        if mongo_pid
        else f"MONGO_URI ({urlparse(mongo_uri).hostname})"
    )

    raws: list[RawResult] = []
    for quorum in (False, True):
        raws.append(
            await raw_round_trip(
                url,
                unique,
                n=args.events,
                warmup=args.warmup,
                concurrency=args.concurrency,
                prefetch=args.prefetch,
                quorum=quorum,
                deadline=deadline,
                progress=progress,
                pids=pids,
            )
        )

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
    kit = await kit_round_trip(
        settings,
        n=args.events,
        warmup=args.warmup,
        aggregates=args.aggregates,
        concurrency=args.concurrency,
        deadline=deadline,
        progress=progress,
        pids=pids,
        log_path=workdir / "kit.log",
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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.deadline
    try:
        async with asyncio.timeout_at(deadline):
            return await run(args, mongo_uri, mongo_pid, workdir, progress, deadline)
    except TimeoutError as exc:
        raise PhaseTimeout(progress.describe()) from exc


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000, help="N events (default 2000)")
    parser.add_argument("--aggregates", type=int, default=200, help="streams to spread them on")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent commands/publishers"
    )
    parser.add_argument(
        "--prefetch", type=int, default=16, help="consumer prefetch (kit default 16)"
    )
    parser.add_argument("--warmup", type=int, default=64, help="warm-up events before each phase")
    parser.add_argument(
        "--outbox-poll", type=float, default=0.2, help="relay poll seconds (kit default)"
    )
    parser.add_argument("--outbox-batch", type=int, default=100, help="relay batch (kit default)")
    parser.add_argument("--kit-log-level", default="INFO", help="the kit's log level (to a file)")
    parser.add_argument("--deadline", type=float, default=300.0, help="overall time bound, seconds")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the kit phase into FILE")
    parser.add_argument(
        "--rabbitmq-url", default=os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)
    )
    args = parser.parse_args(argv)
    for name in ("events", "aggregates", "concurrency", "prefetch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 1:
        parser.error("--warmup must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    watchdog = start_watchdog(args.deadline + 60)
    progress = Progress()
    if not rabbit_reachable(args.rabbitmq_url):
        print(f"bench: RabbitMQ is not reachable at {args.rabbitmq_url}", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="bench-eventkit-"))
    try:
        with mongo_server(workdir) as (mongo_uri, mongo_pid):
            try:
                text = asyncio.run(amain(args, mongo_uri, mongo_pid, workdir, progress))
            except PhaseTimeout as exc:
                print(
                    f"bench: TIMEOUT after {time.monotonic() - started:.0f}s "
                    f"(--deadline {args.deadline:.0f}s) in {exc}",
                    file=sys.stderr,
                )
                return EXIT_TIMEOUT
        print(text)
        if args.profile:
            print(f"\ncProfile of the kit phase written to {args.profile}; top by own time:")
            stats = pstats.Stats(args.profile)
            stats.sort_stats("tottime").print_stats(15)
        print(f"\ntotal run time {time.monotonic() - started:.1f}s")
        return 0
    finally:
        watchdog.cancel()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
