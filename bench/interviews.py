"""Benchmark of starting interviews through the gateway, and of the weekly quota decision in
it, in one run.

What is measured, on an isolated stack (scripts/devstack.py: all five services and a
Mongo-wire server, with its own exchange, queue prefix, databases and Redis key prefix):

0. not timed: `--users` users (default 200) register and log in through the gateway, plus
   `--probe-users` (default 6) for the one-at-a-time probes and `--warmup-users` (default 6)
   whose requests warm the path (connection pools, JWKS caches) and are thrown away. The
   warm-up's rate tells whether the loaded phases fit in what is left of `--deadline`; when
   they cannot, the bench stops there and says so, rather than timing out half-way.
1. one at a time: each probe user POSTs /interviews twice (202) and a third time (429, the
   quota denial), each request only once the follow-up work of the previous creations is
   done (no session left `queued`). The path's own latency, without queueing.
2. creations: every user's two sessions, 2 x `--users` POST /interviews (default 400), from
   `--concurrency` (default 16) concurrent clients (all users' first session, then all
   users' second: one user never has two requests in flight). Every answer must be 202 with
   the quota left (1, then 0). Sessions/s is the count over the wall time from the first
   request to the last answer. An unexpected answer here (an error status, a request still
   unanswered after 300 s, a dropped connection) is counted and shown apart, not in the
   latencies; its user is left out of what follows (a request the gateway gave up on may
   still have gone through), and the run ends in failure after the figures are printed.
3. denials: right after, every user's third request, `--users` POSTs at the same
   concurrency. Every answer must be 429 with code `quota_exceeded` and a positive
   Retry-After (a 429 of the gateway's rate limiter would be `too_many_requests`; the limits
   are set too high to trigger).

Each creation sets off follow-up work (the outbox relay publishes SessionRequested, the AI
runner prepares the session and reports SessionReady, interviews folds it in). It runs
during phases 2 and 3 as it would in production; the bench reports how many sessions are
still `queued` at the end of each, and does not wait for the backlog.

The quota decision's share of POST /interviews. The decision is the part of the start
transaction that reads the user's plan (`PlanProjection.plan_of`) and takes one unit of the
weekly quota (`QuotaLedger.take`: one conditional upsert and a read by _id; a denial is the
upsert's duplicate-key error). It cannot be timed from outside the interviews process, and
comparing 202 with 429 latencies does not isolate it: a denied request still verifies the
token, picks its questions (before the transaction) and runs the same decision; what it
skips is saving the session (event append, outbox row, read model) and reading the view
back. So the bench replays the decision itself in this process, with the service's own
classes and transaction helper (`transactional_command`), against the same Mongo server
and the same `plans` and `quota` collections, for synthetic users (two granted takes and one
denied each), timed from before `plan_of` to after `take`; the transaction's start and
commit are shown apart (a session's commit carries its event append too, so it is not the
quota's own cost). One at a time, a replayed decision follows each probe POST; under load,
one client replays decisions (paced by `--sidecar-pace`) while phases 2 and 3 run, so they
wait for the same busy Mongo as the POSTs (not for the interviews process's busy event loop:
the loaded share is, if anything, low). Share = decision / POST latency, for
p50 and for the mean. For context, the question pick (`Interviews._pick`, the service's
own code on a stand-in runtime that has only the database) is replayed one at a time too.

Stack settings: RATE_LIMIT_IP, RATE_LIMIT_USER, RATE_LIMIT_REGISTER_IP, RATE_LIMIT_LOGIN_IP
and RATE_LIMIT_LOGIN_ACCOUNT = 1000000/60 (never throttle), LOG_LEVEL=WARNING (no
per-request log lines), and UPSTREAM_TIMEOUT_SECONDS and QUEUED_DEADLINE_SECONDS = 3600: under
this load a request can take longer than the gateway's default 15 s (it would be cut off as a
504, and its latency lost), and a session can wait longer than the 120 s interviews gives its
preparation (it would be failed and the credit returned, so the user's third request would be
granted, not denied). The report counts how many requests and sessions went past the defaults.
A warning or error logged by a service during the measured phases fails the bench (the path
measured would not be the normal one). The client is aiohttp in this process (keep-alive,
`--concurrency` connections); latencies are measured around each request. CPU per phase is read
from /proc (the stack's process groups, this process, the machine), and a warning is printed
when other work on the machine took more than a quarter core.

Run (RabbitMQ and Redis must be up; a secantusdb server is started unless MONGO_URI is set)::

    cd /work/main && uv run python bench/interviews.py
    uv run python bench/interviews.py --users 100 --concurrency 32
    uv run python bench/interviews.py --deadline 600 --keep   # more time; keep logs, data

Exit status: 0 when every phase ran and every answer was the expected one, 1 on a failure
(the stack did not start, an unexpected answer, a service logged warnings/errors, not
enough time left for the loaded phases), 2 when `--deadline` seconds (default 180) passed.
On this 2-core machine the 200 default users need about 6 minutes when nothing else runs
(the sign-ups' argon2 hashes alone take 40-60 s, the loaded phases 300 s), more when other
work shares the machine: the bench says so after the warm-up rather than time out half-way;
give it `--deadline 600`. A run that times out still prints the parts that finished.
The clean-up (stopping the stack, deleting our queues, exchange and Redis keys, the temp
dir unless `--keep` or a failure) has its own 60 s bound after that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any

from _stack import LIST_QUEUES, clean_broker_and_redis
from _stats import BenchFailure, Dist, percentile

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# This file is named like the interviews package: keep bench/ off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from stackutil import LogWatch  # noqa: E402 - found through the path set just above

EXIT_FAILURE = 1
EXIT_TIMEOUT = 2
PASSWORD = "Quota-Lantern-2024"  # auth refuses a password that contains the name
UNLIMITED = "1000000/60"
LONG_WAIT_S = 3600
CLEANUP_S = 60.0
CLIENT_TIMEOUT_S = 300.0  # a request is measured to its end unless it takes this long
SLOWDOWN = 2.5  # sustained-load rate / warm-up rate, measured here: 2.0 vs 4.7-5.4 per s


def defaults() -> dict[str, float]:
    """The platform's own timeouts and deadlines, which the bench raises for its stack."""
    from gateway.settings import Settings as GatewaySettings
    from interviews.settings import Settings as InterviewsSettings

    return {
        "upstream_timeout": float(GatewaySettings.model_fields["upstream_timeout_seconds"].default),
        "queued_deadline": float(
            InterviewsSettings.model_fields["queued_deadline_seconds"].default
        ),
    }


class NotEnoughTime(BenchFailure):
    """The loaded phases cannot finish before the deadline: nothing to keep for diagnosis."""


class BenchTimeout(Exception):
    pass


# ---------------------------------------------------------------------------------------
# figures


def dist_row(dist: Dist, label: str, rate: float | None = None) -> str:
    rate_s = f"{rate:9.1f}" if rate is not None else " " * 9
    return (
        f"  {label:<50}{dist.n:>6}{rate_s}{dist.p50:>9.2f}{dist.p99:>9.2f}"
        f"{dist.mean:>9.2f}{dist.max:>9.1f}"
    )


HEADER = f"  {'':<50}{'n':>6}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'max ms':>9}"


@dataclass
class Progress:
    """What the run is doing, for the timeout message."""

    phase: str = "starting"
    done: int = 0
    total: int = 0

    def describe(self) -> str:
        return f"{self.phase} ({self.done}/{self.total} done)" if self.total else self.phase


async def run_workers(
    items: Sequence[Any], concurrency: int, job: Callable[[Any], Awaitable[None]]
) -> None:
    """`concurrency` workers pull from `items` in order and run `job` on each."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # a shared iterator is safe: the loop is single-threaded
            await job(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except ExceptionGroup as group_error:
        raise _first_leaf(group_error) from None


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


# ---------------------------------------------------------------------------------------
# the HTTP side


@dataclass
class User:
    email: str
    user_id: str = ""
    token: str = ""


@dataclass
class Outcome:
    status: int
    ms: float
    body: dict[str, Any]
    retry_after: str | None


class Client:
    """aiohttp against the gateway, with the checks every answer must pass."""

    def __init__(self, base_url: str, concurrency: int, session_type: str) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self.base_url = base_url
        self.body = {"type": session_type}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency + 4),
            timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S),
            trust_env=False,
        )

    async def close(self) -> None:
        await self.session.close()

    async def _post(
        self, path: str, body: Any, headers: Mapping[str, str] | None = None
    ) -> Outcome:
        t0 = time.perf_counter_ns()
        async with self.session.post(self.base_url + path, json=body, headers=headers) as r:
            raw = await r.read()
            ms = (time.perf_counter_ns() - t0) / 1e6
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = {"_raw": raw[:300].decode("utf-8", "replace")}
            return Outcome(r.status, ms, data, r.headers.get("Retry-After"))

    async def sign_up(self, user: User) -> None:
        out = await self._post(
            "/auth/register", {"name": "Bench User", "email": user.email, "password": PASSWORD}
        )
        if out.status != 201:
            raise BenchFailure(f"register answered {out.status}: {str(out.body)[:300]}")
        user.user_id = out.body["id"]
        out = await self._post("/auth/login", {"email": user.email, "password": PASSWORD})
        if out.status != 200:
            raise BenchFailure(f"login answered {out.status}: {str(out.body)[:300]}")
        user.token = out.body["access_token"]

    async def start(self, user: User) -> Outcome:
        """POST /interviews; a transport failure or the client's own timeout is reported
        as an unexpected answer (status 0), not raised."""
        t0 = time.perf_counter_ns()
        try:
            return await self._post(
                "/interviews", self.body, {"Authorization": f"Bearer {user.token}"}
            )
        except (self._aiohttp.ClientError, TimeoutError) as exc:
            ms = (time.perf_counter_ns() - t0) / 1e6
            what = "client timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return Outcome(0, ms, {"code": what}, None)


def check_created(out: Outcome, nth: int) -> None:
    if out.status != 202:
        raise Unexpected(
            out.ms, f"session {nth} of a user: {out.status} {out.body.get('code', '')}".rstrip()
        )
    if out.body.get("status") != "queued" or out.body.get("quota_remaining") != 2 - nth:
        raise Unexpected(
            out.ms,
            f"session {nth} of a user: 202 with status {out.body.get('status')!r}, "
            f"quota_remaining {out.body.get('quota_remaining')!r} (expected 'queued', {2 - nth})",
        )


def check_denied(out: Outcome) -> None:
    if out.status != 429 or out.body.get("code") != "quota_exceeded":
        raise Unexpected(
            out.ms,
            f"third session of a user: {out.status} {out.body.get('code', '')} "
            "(expected 429 quota_exceeded)",
        )
    if not (out.retry_after or "").isdigit() or int(out.retry_after or 0) <= 0:
        raise Unexpected(out.ms, f"a quota denial with Retry-After {out.retry_after!r}")


def created(nth: int) -> Callable[[Outcome], None]:
    def check(out: Outcome) -> None:
        check_created(out, nth)

    return check


def strict(check: Callable[[Outcome], None], out: Outcome) -> None:
    """Outside the loaded phases an unexpected answer ends the run."""
    try:
        check(out)
    except Unexpected as exc:
        raise BenchFailure(f"{exc.detail}: {str(out.body)[:300]}") from None


class Unexpected(Exception):
    """An answer that is not the one expected: counted, and the run goes on."""

    def __init__(self, ms: float, detail: str) -> None:
        super().__init__(detail)
        self.ms = ms
        self.detail = detail


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)  # expected answers only, ms
    timeline: list[tuple[int, float]] = field(default_factory=list)  # (request no., ms)
    errors: list[tuple[int, float, str]] = field(default_factory=list)  # (no., ms, what)
    skipped: int = 0
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def by_tenth(self) -> list[float]:
        """p50 latency of each tenth of the phase's requests, in the order they were sent."""
        ordered = [ms for _, ms in sorted(self.timeline)]
        size = max(1, len(ordered) // 10)
        return [percentile(ordered[i : i + size], 50) for i in range(0, len(ordered), size)][:10]


async def timed_phase(
    items: Sequence[Any],
    concurrency: int,
    call: Callable[[Any], Awaitable[float | None]],
    progress: Progress,
    phase: str,
    result: Phase | None = None,
) -> Phase:
    """Run `call` on every item; a latency, None (skipped) or Unexpected (counted). Fills
    `result` (a new Phase by default) as answers come, wall time included if it ends early."""
    result = result if result is not None else Phase()
    progress.phase, progress.done, progress.total = phase, 0, len(items)
    numbered = list(enumerate(items))

    async def job(item: tuple[int, Any]) -> None:
        number, payload = item
        try:
            ms = await call(payload)
        except Unexpected as exc:
            result.errors.append((number, exc.ms, exc.detail))
            result.timeline.append((number, exc.ms))
        else:
            if ms is None:
                result.skipped += 1
            else:
                result.latencies.append(ms)
                result.timeline.append((number, ms))
        progress.done += 1

    t0 = time.perf_counter()
    try:
        await run_workers(numbered, concurrency, job)
    finally:
        result.wall = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------------------------------
# the quota decision (and the question pick), replayed with the service's own code


class _Denied(Exception):
    """Raised inside the replayed transaction on a denial, as QuotaExceeded is: it aborts."""


@dataclass
class Replay:
    decision: list[float] = field(default_factory=list)  # plan_of + take, ms
    transaction: list[float] = field(default_factory=list)  # start -> commit/abort, ms


class QuotaReplay:
    def __init__(self, mongo_uri: str, database: str, session_type: str) -> None:
        from interviews.adapters.quota import QuotaLedger
        from interviews.adapters.stores import MongoStores
        from interviews.app.sessions import Interviews
        from interviews.settings import Settings
        from servicekit.mongo import connect
        from servicekit.plans import PlanProjection

        self.client = connect(mongo_uri, "bench-quota-replay")
        self.db = self.client[database]
        self.plans = PlanProjection(self.db)
        self.ledger = QuotaLedger(self.db)
        defaults = Settings.model_fields
        self.free_limit = int(defaults["free_weekly_limit"].default)
        self.premium_limit = int(defaults["premium_weekly_limit"].default)
        # the use case itself, on a stand-in runtime that only has the database: its
        # question pick reads nothing else
        runtime = SimpleNamespace(db=self.db)
        self.interviews = Interviews(
            runtime,  # type: ignore[arg-type]
            MongoStores(runtime),  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            lambda: datetime.now(UTC),
        )
        if session_type == "coding":
            self.counts = {"coding": 3, "behavioral": 0}
        elif session_type == "behavioral":
            self.counts = {"coding": 0, "behavioral": 4}
        else:
            self.counts = {"coding": 2, "behavioral": 2}

    async def close(self) -> None:
        await self.client.close()

    async def decide(self, user_id: str, expect_granted: bool, into: Replay) -> None:
        """What `Interviews.start`'s transaction does about the quota, nothing more."""
        from contracts.calendar import iso_week
        from servicekit.eventstore import transactional_command

        spent: list[float] = []

        async def work(session: Any) -> int:
            now = datetime.now(UTC)
            week = iso_week(now)
            t0 = time.perf_counter_ns()
            plan = await self.plans.plan_of(user_id, session=session)
            limit = self.premium_limit if plan == "premium" else self.free_limit
            used = await self.ledger.take(user_id, week, limit, now, session)
            spent.append((time.perf_counter_ns() - t0) / 1e6)
            if used is None:
                raise _Denied
            return int(used)

        t0 = time.perf_counter_ns()
        try:
            await transactional_command(self.client, work)
            granted = True
        except _Denied:
            granted = False
        into.transaction.append((time.perf_counter_ns() - t0) / 1e6)
        into.decision.append(spent[-1])
        if granted != expect_granted:
            raise BenchFailure(
                f"replayed quota decision for {user_id}: granted={granted}, "
                f"expected {expect_granted}"
            )

    async def pick(self, user_id: str) -> float:
        """`Interviews._pick` for every kind of the session type, as `start` runs it; ms."""
        t0 = time.perf_counter_ns()
        session_id = str(uuid.uuid4())
        recent = await self.interviews.view.recent_question_ids(user_id)
        catalog = await self.interviews.catalog.fresh()
        for kind, n in self.counts.items():
            self.interviews._pick(catalog, recent, session_id, kind, n, None, None)
        return (time.perf_counter_ns() - t0) / 1e6

    async def one_at_a_time(self, user_ids: Sequence[str]) -> tuple[Replay, Replay]:
        granted, denied = Replay(), Replay()
        for user_id in user_ids:
            await self.decide(user_id, True, granted)
            await self.decide(user_id, True, granted)
            await self.decide(user_id, False, denied)
        return granted, denied


class Sidecar:
    """One client replaying quota decisions (grant, grant, deny per synthetic user), paced,
    while a loaded phase runs: the decision's latency under the platform's load."""

    def __init__(self, replay: QuotaReplay, prefix: str, pace_s: float) -> None:
        self.replay = replay
        self.prefix = prefix
        self.pace_s = pace_s
        self.granted, self.denied = Replay(), Replay()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            user_id = f"{self.prefix}-{n:05d}"
            n += 1
            for expect, into in ((True, self.granted), (True, self.granted), (False, self.denied)):
                await self.replay.decide(user_id, expect, into)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.pace_s)
                if self._stop.is_set():
                    return

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def finish(self) -> None:
        """Stop after the decision in flight; its failure (a wrong grant) is raised here."""
        self._stop.set()
        if self._task is not None:
            await self._task

    async def cancel(self) -> None:
        """Cancel it; a transaction being aborted on a busy server gets 5 s at most."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5)


# ---------------------------------------------------------------------------------------
# watching the platform


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, since boot)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


class CpuMeter:
    """CPU seconds of the stack's process groups, this process and the whole machine."""

    def __init__(self, groups: Mapping[str, int]) -> None:
        self.groups = {pgid: name for name, pgid in groups.items()}

    def snapshot(self) -> tuple[dict[str, float], float, float]:
        by_name = dict.fromkeys(self.groups.values(), 0.0)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            rest = raw[raw.rindex(")") + 2 :].split()
            pgrp = int(rest[2])
            if pgrp in self.groups:
                by_name[self.groups[pgrp]] += (int(rest[11]) + int(rest[12])) / CLK_TCK
        return by_name, time.process_time(), _machine_busy()


@dataclass
class Cpu:
    wall: float
    services: dict[str, float]
    bench: float
    machine: float

    @staticmethod
    def between(
        before: tuple[dict[str, float], float, float],
        after: tuple[dict[str, float], float, float],
        wall: float,
    ) -> Cpu:
        return Cpu(
            wall,
            {k: after[0][k] - before[0].get(k, 0.0) for k in after[0]},
            after[1] - before[1],
            after[2] - before[2],
        )

    @property
    def other_cores(self) -> float:
        ours = sum(self.services.values()) + self.bench
        return max(0.0, self.machine - ours) / self.wall if self.wall else 0.0

    def render(self) -> str:
        parts = [f"{k} {v / self.wall:.2f}" for k, v in self.services.items() if v > 0.005]
        return (
            f"cores busy over {self.wall:.1f} s: "
            + ", ".join(parts)
            + f", bench {self.bench / self.wall:.2f}; whole machine {self.machine / self.wall:.2f}"
            f" of {os.cpu_count()}, not ours {self.other_cores:.2f}"
        )


def queue_depths(prefix: str) -> dict[str, int] | None:
    """Messages ready + unacknowledged in each of our queues (None: rabbitmqctl missing)."""
    try:
        listing = subprocess.run(
            [*LIST_QUEUES, "name", "messages_ready", "messages_unacknowledged"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    depths: dict[str, int] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(prefix):
            with contextlib.suppress(ValueError):
                depths[parts[0]] = int(parts[1]) + int(parts[2])
    return depths


async def settle(
    db: Any,
    prefix: str,
    progress: Progress,
    what: str,
    limit_s: float,
    *,
    sessions_only: bool = False,
) -> float | None:
    """Wait until no session is `queued` (SessionReady folded in: the last step of what a
    creation sets off) and, unless `sessions_only`, our queues are empty, twice in a row.
    The seconds it took, or None when it did not happen within `limit_s`."""
    progress.phase, progress.total = f"waiting for the platform to settle after {what}", 0
    t0 = time.perf_counter()
    quiet = 0
    while True:
        queued = await db["sessions"].count_documents({"status": "queued"})
        depths = None if sessions_only else await asyncio.to_thread(queue_depths, prefix)
        busy = queued + (sum(depths.values()) if depths else 0)
        quiet = quiet + 1 if busy == 0 else 0
        if quiet >= 2:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > limit_s:
            return None
        await asyncio.sleep(0.02 if sessions_only else 0.3)


# ---------------------------------------------------------------------------------------
# the run


@dataclass
class Loaded:
    """One loaded phase: the HTTP answers, the sidecar's decisions, the CPU, the backlog.
    Filled as the phase runs; `finished` stays False when the run ended during it."""

    phase: Phase
    sidecar: Sidecar
    cpu: Cpu | None = None
    queued_after: int = 0
    oldest_queued_s: float = 0.0  # age of the oldest session still `queued` at the end
    finished: bool = False


@dataclass
class Results:
    signup_s: float = 0.0
    signup_users: int = 0
    warmup_rate: float = 0.0
    settled_after_signup: float | None = None
    unloaded_created: list[float] = field(default_factory=list)
    unloaded_denied: list[float] = field(default_factory=list)
    replay_unloaded: tuple[Replay, Replay] = field(default_factory=lambda: (Replay(), Replay()))
    picks_unloaded: list[float] = field(default_factory=list)
    created: Loaded | None = None
    denied: Loaded | None = None
    sessions_in_view: int = 0
    full_quota_docs: int = 0
    checked_users: int = 0
    log_problems: dict[str, tuple[int, str]] = field(default_factory=dict)

    def failures(self) -> list[str]:
        """What makes this run's figures untrustworthy (empty: none)."""
        out: list[str] = []
        for label, loaded in (("creations", self.created), ("denials", self.denied)):
            if loaded is not None and loaded.phase.errors:
                kinds: dict[str, int] = {}
                for _, _, what in loaded.phase.errors:
                    kinds[what] = kinds.get(what, 0) + 1
                listed = "; ".join(f"{n} x {what}" for what, n in kinds.items())
                out.append(
                    f"{len(loaded.phase.errors)} unexpected answers in the {label}: {listed}"
                )
        for name, (count, first) in self.log_problems.items():
            out.append(f"{name} logged {count} warnings/errors, the first: {first}")
        if self.sessions_in_view != 2 * self.checked_users:
            out.append(
                f"interviews holds {self.sessions_in_view} sessions for {self.checked_users} "
                f"users with only expected answers (expected {2 * self.checked_users})"
            )
        if self.full_quota_docs != self.checked_users:
            out.append(
                f"{self.full_quota_docs} quota documents at 2 of 2 for {self.checked_users} "
                "users with only expected answers"
            )
        return out


async def measure(
    args: argparse.Namespace,
    gateway_url: str,
    mongo_uri: str,
    env: Mapping[str, str],
    logs: LogWatch,
    meter: CpuMeter,
    progress: Progress,
    deadline_at: float,
    res: Results,
) -> Results:
    """Fills `res` as the parts finish (a timeout leaves the finished parts in it)."""
    from servicekit.mongo import connect

    tag = env["MONGO_DB_PREFIX"].rstrip("_")
    database = f"{env['MONGO_DB_PREFIX']}mi_interviews"
    client = Client(gateway_url, args.concurrency, args.type)
    mongo = connect(mongo_uri, "bench-interviews")
    replay = QuotaReplay(mongo_uri, database, args.type)
    try:
        db = mongo[database]
        users = [User(f"bench-{tag}-{i:04d}@example.com") for i in range(args.users)]
        probes = [User(f"bench-{tag}-probe-{i:02d}@example.com") for i in range(args.probe_users)]
        warm = [User(f"bench-{tag}-warm-{i:02d}@example.com") for i in range(args.warmup_users)]
        everyone = users + probes + warm

        async def sign_up(user: User) -> float:
            await client.sign_up(user)
            return 0.0

        phase = await timed_phase(
            everyone, args.concurrency, sign_up, progress, "registering and logging in users"
        )
        res.signup_s, res.signup_users = phase.wall, len(everyone)
        res.settled_after_signup = await settle(
            db, env["QUEUE_PREFIX"], progress, "the sign-ups", 20.0
        )
        print(
            f"signed up {len(everyone)} users (register + login through the gateway) in "
            f"{phase.wall:.1f} s, not timed below; their events were handled "
            + (
                f"{res.settled_after_signup:.1f} s later"
                if res.settled_after_signup is not None
                else "not within 20 s (going on)"
            ),
            flush=True,
        )

        # warm-up: the same three requests per user, thrown away; replayed decisions too
        async def whole_user(user: User) -> float:
            for nth in (1, 2):
                strict(created(nth), await client.start(user))
            strict(check_denied, await client.start(user))
            return 0.0

        warmed = await timed_phase(warm, args.concurrency, whole_user, progress, "warm-up")
        res.warmup_rate = 3 * len(warm) / warmed.wall
        progress.phase = "warm-up: replayed decisions and picks"
        await replay.one_at_a_time([f"bench-quota-{tag}-warm-{i:02d}" for i in range(4)])
        for user in warm[:2]:
            await replay.pick(user.user_id)
        # the loaded phases must fit in what is left of --deadline: say so now, not at the end.
        # Under sustained load the rate falls to well under half the warm-up's (the AI
        # runner's growing backlog competes for Mongo), hence the factor.
        needed = 3 * len(users) / res.warmup_rate * SLOWDOWN + 3 * len(probes) * 2.0
        left = deadline_at - time.monotonic()
        print(
            f"warm-up: {3 * len(warm)} requests at {res.warmup_rate:.1f}/s; the measured phases "
            f"should need about {needed:.0f} s, {left:.0f} s are left of --deadline "
            f"{args.deadline:g}",
            flush=True,
        )
        if needed > left:
            raise NotEnoughTime(
                f"not enough time: at the {res.warmup_rate:.1f} POST /interviews per second "
                f"of the warm-up (and {SLOWDOWN:g} times slower under sustained load, as seen "
                f"on this machine), the {3 * len(users)} loaded and {3 * len(probes)} "
                f"one-at-a-time requests need about {needed:.0f} s, and {left:.0f} s are left "
                f"of --deadline {args.deadline:g} (sign-ups took {res.signup_s:.0f} s); "
                "rerun with a longer --deadline or fewer --users (see the load average above: "
                "other work on the machine slows everything)"
            )

        logs.mark()
        # 1. one at a time: each POST waits until the follow-up work of the previous creations
        # (relay, AI runner, SessionReady) is done; right after it, the decision and the
        # question pick are replayed, so all three sample the same moment of the machine
        progress.phase, progress.done, progress.total = "one at a time", 0, len(probes)
        for i, user in enumerate(probes):
            synthetic = f"bench-quota-{tag}-probe-{i:02d}"
            for nth in (1, 2, 3):
                await settle(db, "", progress, "the previous creation", 60.0, sessions_only=True)
                progress.phase = "one at a time"
                out = await client.start(user)
                if nth < 3:
                    strict(created(nth), out)
                    res.unloaded_created.append(out.ms)
                    await settle(db, "", progress, "a creation", 60.0, sessions_only=True)
                    progress.phase = "one at a time"
                else:
                    strict(check_denied, out)
                    res.unloaded_denied.append(out.ms)
                await replay.decide(synthetic, nth < 3, res.replay_unloaded[nth == 3])
                res.picks_unloaded.append(await replay.pick(user.user_id))
            progress.done += 1

        async def loaded(
            items: Sequence[Any],
            call: Callable[[Any], Awaitable[float | None]],
            name: str,
            store: Callable[[Loaded], None],
        ) -> Loaded:
            sidecar = Sidecar(replay, f"bench-quota-{tag}-{name.split()[0]}", args.sidecar_pace)
            part = Loaded(Phase(), sidecar)
            store(part)  # so that a timeout still finds what was measured so far
            before = meter.snapshot()
            t0 = time.perf_counter()
            sidecar.start()
            try:
                await timed_phase(items, args.concurrency, call, progress, name, part.phase)
            except BaseException:
                await sidecar.cancel()
                raise
            part.cpu = Cpu.between(before, meter.snapshot(), time.perf_counter() - t0)
            await sidecar.finish()
            part.queued_after = await db["sessions"].count_documents({"status": "queued"})
            oldest = await db["sessions"].find_one(
                {"status": "queued"}, {"created_at": 1}, sort=[("created_at", 1)]
            )
            if oldest and isinstance(oldest.get("created_at"), datetime):
                part.oldest_queued_s = (datetime.now(UTC) - oldest["created_at"]).total_seconds()
            part.finished = True
            return part

        # 2. creations; a user with an unexpected answer is left out of what follows (its
        # quota is then unknown: a request the gateway gave up on may still have gone through)
        tainted: set[str] = set()

        async def create(item: tuple[User, int]) -> float | None:
            user, nth = item
            if user.email in tainted:
                return None
            out = await client.start(user)
            try:
                check_created(out, nth)
            except Unexpected:
                tainted.add(user.email)
                raise
            return out.ms

        items = [(u, 1) for u in users] + [(u, 2) for u in users]
        await loaded(
            items,
            create,
            f"creations ({len(items)} POSTs)",
            lambda part: setattr(res, "created", part),
        )

        # 3. denials, right after: the creations' follow-up work goes on meanwhile
        async def deny(user: User) -> float:
            out = await client.start(user)
            check_denied(out)
            return out.ms

        clean = [u for u in users if u.email not in tainted]
        await loaded(
            clean, deny, f"denials ({len(clean)} POSTs)", lambda part: setattr(res, "denied", part)
        )
        res.log_problems = logs.problems()

        # what the platform holds now, for the users whose every answer was the expected one
        progress.phase = "checking sessions and quota documents"
        ids = [u.user_id for u in clean + probes + warm]
        res.checked_users = len(ids)
        res.sessions_in_view = await db["sessions"].count_documents({"user_id": {"$in": ids}})
        res.full_quota_docs = await db["quota"].count_documents(
            {"user_id": {"$in": ids}, "used": 2}
        )
        return res
    finally:
        for closing in (client.close(), mongo.close(), replay.close()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing, 10)


# ---------------------------------------------------------------------------------------
# reporting


def share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole > 0 else "n/a"


def share_row(label: str, dec: Dist, post: Dist) -> str:
    return (
        f"  {label:<34}{dec.p50:>9.2f}{post.p50:>10.2f}{share(dec.p50, post.p50):>8}"
        f"{dec.mean:>11.2f}{post.mean:>11.2f}{share(dec.mean, post.mean):>8}"
    )


def report(args: argparse.Namespace, res: Results, partial: bool = False) -> None:
    """Print what was measured; with `partial` (the run timed out), what it got to, the phase
    it was in marked unfinished."""
    c = args.concurrency
    if not (res.unloaded_created and res.unloaded_denied and res.picks_unloaded):
        print("\n== no figures: the run ended before the one-at-a-time requests were done")
        return
    created_u, denied_u = Dist.of(res.unloaded_created), Dist.of(res.unloaded_denied)
    g_u, d_u = res.replay_unloaded
    dec_g_u, dec_d_u = Dist.of(g_u.decision), Dist.of(d_u.decision)
    pick_u = Dist.of(res.picks_unloaded)
    parts = [
        (label, part, http_label)
        for label, part, http_label in (
            ("creations", res.created, "202 created"),
            ("denials", res.denied, "429 quota denied"),
        )
        if part is not None and part.phase.latencies
    ]
    done = [p for p in parts if p[1].finished]

    print()
    print(
        f"== {'PARTIAL ' if partial else ''}results: {args.users} users, POST /interviews "
        f"{json.dumps({'type': args.type})} through the gateway; one at a time: "
        f"{args.probe_users} probe users; loaded: concurrency {c}"
        + (f" (finished: {', '.join(p[0] for p in done) or 'none'})" if partial else "")
    )
    print(HEADER)
    print("POST /interviews, seen by the client")
    print(dist_row(created_u, "one at a time: 202 created"))
    print(dist_row(denied_u, "one at a time: 429 quota denied"))
    for label, part, http_label in parts:
        unfinished = "" if part.finished else " UNFINISHED"
        print(
            dist_row(
                Dist.of(part.phase.latencies),
                f"concurrency {c}: {http_label}{unfinished}",
                part.phase.rate,
            )
        )
        if part.phase.errors:
            print(
                dist_row(
                    Dist.of([ms for _, ms, _ in part.phase.errors]),
                    f"  the {label}' unexpected answers (not above)",
                )
            )
        tenths = " ".join(f"{v:.0f}" for v in part.phase.by_tenth())
        print(f"  p50 ms of each tenth of the {label}, in sending order: {tenths}")
    print("quota decision (plan_of + take), replayed in this process")
    print(dist_row(dec_g_u, "one at a time: granted"))
    print(dist_row(Dist.of(g_u.transaction), "  its whole transaction (start .. commit)"))
    print(dist_row(dec_d_u, "one at a time: denied"))
    print(dist_row(Dist.of(d_u.transaction), "  its whole transaction (start .. abort)"))
    for label, part, _ in parts:
        if part.sidecar.granted.decision:
            print(dist_row(Dist.of(part.sidecar.granted.decision), f"during the {label}: granted"))
        if part.sidecar.denied.decision:
            print(dist_row(Dist.of(part.sidecar.denied.decision), f"during the {label}: denied"))
    print("question pick (Interviews._pick per kind), replayed in this process")
    print(dist_row(pick_u, "one at a time"))

    if parts:
        print()
        print(
            "== "
            + "; ".join(
                f"{'sessions created' if label == 'creations' else 'quota denials'} per second: "
                f"{part.phase.rate:.1f} ({len(part.phase.latencies)} in {part.phase.wall:.1f} s "
                f"at concurrency {c}{'' if part.finished else ', UNFINISHED'})"
                for label, part, _ in parts
            )
        )
        for label, part, _ in parts:
            if part.cpu is None:
                continue
            print(f"   {label}: {part.cpu.render()}")
            if part.cpu.other_cores > 0.25:
                print(
                    f"   WARNING: other load on the machine during the {label} "
                    f"({part.cpu.other_cores:.2f} cores not ours): the rates are low for it"
                )
        limits = defaults()
        print(
            "   follow-up work (relay, AI runner preparing, SessionReady folded in) runs during "
            "the phases: sessions still `queued` at the end of "
            + (
                ", at the end of ".join(
                    f"the {label} {part.queued_after} (the oldest waiting "
                    f"{part.oldest_queued_s:.0f} s)"
                    for label, part, _ in done
                )
                or "(no phase finished)"
            )
            + f", of {2 * args.users}"
        )
        slow = sum(
            1
            for _, part, _ in parts
            for _, ms in part.phase.timeline
            if ms > limits["upstream_timeout"] * 1000
        )
        waited = max((part.oldest_queued_s for _, part, _ in done), default=0.0)
        print(
            f"   with the platform's defaults: {slow} of these requests took longer than the "
            f"gateway's {limits['upstream_timeout']:g} s upstream timeout (they would have been "
            f"504s); sessions waited up to {waited:.0f} s to be prepared (interviews fails "
            f"them after {limits['queued_deadline']:g} s, giving the credit back). The bench's "
            f"stack has both raised to {LONG_WAIT_S} s so that every request is measured to its "
            "end and every third request meets a full quota."
        )

    print()
    print("== the quota decision's share of POST /interviews")
    print(
        "   method: the decision is the start transaction's PlanProjection.plan_of +\n"
        "   QuotaLedger.take (the service's own classes, in transactional_command, same Mongo\n"
        "   and collections,\n"
        "   synthetic users), timed from before plan_of to after take. One at a time it is\n"
        "   compared with one-at-a-time POSTs; under load, one paced client replays it during\n"
        f"   the loaded phases (a decision every {args.sidecar_pace:g} s), so it waits for the\n"
        "   same busy Mongo as the POSTs it is compared with (not for the interviews process's\n"
        "   own event loop, which is busy too: the loaded share is, if anything, low).\n"
        "   Not used: 202 - 429, which is what a denial skips (saving the session: event\n"
        "   append, outbox row, read model, reading the view back), not the decision: a denied\n"
        "   request verifies the token, picks its questions and decides just the same."
    )
    print(
        f"  {'':<34}{'decision':>9}{'POST':>10}{'share':>8}{'decision':>11}{'POST':>11}{'share':>8}"
    )
    print(f"  {'':<34}{'p50 ms':>9}{'p50 ms':>10}{'of p50':>8}{'mean ms':>11}{'mean ms':>11}"
          f"{'of mean':>8}")  # fmt: skip
    print(share_row("one at a time, 202", dec_g_u, created_u))
    print(share_row("one at a time, 429", dec_d_u, denied_u))
    # under load the decision's time is mostly waiting for Mongo, granted or denied alike:
    # every decision sampled during a phase counts for it
    loaded_shares: dict[str, tuple[Dist, Dist]] = {}
    for label, part, _ in parts:
        during = part.sidecar.granted.decision + part.sidecar.denied.decision
        if during:
            code = "202" if label == "creations" else "429"
            post = Dist.of(part.phase.latencies)
            loaded_shares[label] = (Dist.of(during), post)
            print(share_row(f"concurrency {c}, {code} (n={len(during)})", Dist.of(during), post))
    print(
        "   (n = replayed decisions sampled during that phase, granted and denied together: "
        "under load their time is mostly waiting for Mongo)"
    )
    headline = (
        f"   headline: the quota decision is {share(dec_g_u.p50, created_u.p50)} of an "
        f"unloaded POST /interviews (p50 {dec_g_u.p50:.2f} of {created_u.p50:.2f} ms)"
    )
    if "creations" in loaded_shares:
        dec, post = loaded_shares["creations"]
        headline += (
            f" and {share(dec.p50, post.p50)} at concurrency {c} (p50 "
            f"{dec.p50:.2f} of {post.p50:.2f} ms)"
        )
    print(headline)
    loaded_gap = ""
    if len(loaded_shares) == 2:
        gap = loaded_shares["creations"][1].p50 - loaded_shares["denials"][1].p50
        loaded_gap = f", {gap:.2f} ms at concurrency {c}"
    print(
        f"   for context: the question pick is {share(pick_u.p50, created_u.p50)} of it one "
        f"at a time (p50 {pick_u.p50:.2f} ms); 202 - 429 at p50: "
        f"{created_u.p50 - denied_u.p50:.2f} ms one at a time{loaded_gap}"
    )
    if partial:
        return
    errors = sum(len(part.phase.errors) for _, part, _ in parts)
    print(
        f"   checked: {'every answer' if not errors else f'all but {errors} answers'} as "
        "expected (202 with quota_remaining 1 then 0; 429 quota_exceeded with a Retry-After); "
        f"interviews holds {res.sessions_in_view} sessions and {res.full_quota_docs} quota "
        f"documents at 2 of 2 for the {res.checked_users} users whose answers were all as expected"
    )


def describe_machine(args: argparse.Namespace) -> None:
    import importlib.metadata

    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    load = os.getloadavg()
    print("== machine and settings")
    print(
        f"nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; python {platform.python_version()}, "
        f"aiohttp {version('aiohttp')}, pymongo {version('pymongo')}, "
        f"secantusdb {version('secantusdb')}"
    )
    print(
        f"users {args.users} (+{args.probe_users} probe, +{args.warmup_users} warm-up), "
        f"concurrency {args.concurrency}, session type {args.type}, deadline {args.deadline:g}s"
    )


# ---------------------------------------------------------------------------------------
# clean-up


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as uvicorn runs the services: the replayed code then runs on
    the same kind of event loop as in the service."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _pid(stack: Any, name: str) -> int:
    popen = stack.popen(name)
    if popen is None:
        raise BenchFailure(f"{name} is not running")
    return int(popen.pid)


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: Iterable[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--users", type=int, default=200, help="users; each starts 2 sessions and is denied 1")
    add("--concurrency", "-c", type=int, default=16, help="concurrent clients")
    add("--probe-users", type=int, default=6, help="users for the one-at-a-time probes")
    add("--warmup-users", type=int, default=6, help="users whose requests are thrown away")
    add(
        "--sidecar-pace",
        type=float,
        default=0.1,
        help="seconds between the replayed decisions sampled during the loaded phases",
    )
    add("--type", choices=("mixed", "coding", "behavioral"), default="mixed")
    add("--deadline", type=float, default=180.0, help="seconds for everything")
    add("--keep", action="store_true", help="keep the temp dir with the logs and data")
    args = parser.parse_args(list(argv))
    if min(args.users, args.concurrency, args.probe_users, args.warmup_users) < 1:
        parser.error("--users, --concurrency, --probe-users and --warmup-users must be >= 1")
    return args


def main(argv: Iterable[str]) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    progress = Progress()

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        # armed only for the clean-up, which runs outside the event loop
        print("bench: clean-up did not finish in time; giving up", file=sys.stderr)
        os._exit(EXIT_TIMEOUT)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)

    from devstack import Stack, StackError

    tag = uuid.uuid4().hex[:8]
    env = {
        "EVENTS_EXCHANGE": f"mi.events.benchiv{tag}",
        "QUEUE_PREFIX": f"benchiv{tag}.",
        "MONGO_DB_PREFIX": f"benchiv{tag}_",
        "REDIS_KEY_PREFIX": f"benchiv{tag}:",
        "RATE_LIMIT_IP": UNLIMITED,
        "RATE_LIMIT_USER": UNLIMITED,
        "RATE_LIMIT_REGISTER_IP": UNLIMITED,
        "RATE_LIMIT_LOGIN_IP": UNLIMITED,
        "RATE_LIMIT_LOGIN_ACCOUNT": UNLIMITED,
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "test",
        # measure every request to its end instead of cutting it at the gateway's timeout;
        # the report counts those that ran past the default
        "UPSTREAM_TIMEOUT_SECONDS": str(LONG_WAIT_S),
        # a session whose preparation waits past this deadline is failed and its credit
        # returned: a third request would then be granted, not denied; the report counts the
        # sessions that waited past the default
        "QUEUED_DEADLINE_SECONDS": str(LONG_WAIT_S),
    }
    work = Path(tempfile.mkdtemp(prefix="mi-bench-interviews-"))
    stack: Stack | None = None
    results: Results | None = None
    status = 0
    keep = True  # on a failure, the logs and data are kept for diagnosis

    def last_resort() -> None:
        """The deadline and the clean-up's own time passed and the run did not end (the
        event loop stuck on a server that does not answer): kill what we started, go."""
        sys.stderr.write(
            f"\nbench: TIMEOUT: hard deadline passed during {progress.describe()}; killing "
            f"the stack and exiting (logs and data in {work})\n"
        )
        if stack is not None:
            for name in (*stack.services, *(["mongo"] if "mongo" in stack.ports else [])):
                popen = stack.popen(name)
                if popen is not None:
                    with contextlib.suppress(OSError):
                        os.killpg(popen.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            clean_broker_and_redis(env)
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)

    watchdog = threading.Timer(args.deadline + CLEANUP_S + 30, last_resort)
    watchdog.daemon = True
    watchdog.start()
    try:
        describe_machine(args)
        progress.phase = "starting the stack"
        stack = Stack(work / "stack", ports="auto", env=env)
        stack.start(timeout=min(120.0, args.deadline / 2))
        print(f"stack up in {time.monotonic() - began:.1f} s: {stack.ports}", flush=True)
        logs = LogWatch({name: stack.log_path(name) for name in stack.services})
        groups = {name: _pid(stack, name) for name in stack.services}
        if "mongo" in stack.ports:
            groups["mongo"] = _pid(stack, "mongo")
        meter = CpuMeter(groups)
        remaining = args.deadline - (time.monotonic() - began) - 1.0
        results = Results()

        async def bounded() -> Results:
            deadline = asyncio.timeout(remaining)
            try:
                async with deadline:
                    return await measure(
                        args,
                        stack.gateway_url,
                        stack.mongo_uri,
                        env,
                        logs,
                        meter,
                        progress,
                        time.monotonic() + remaining,
                        results,
                    )
            except TimeoutError as exc:
                if deadline.expired():
                    raise BenchTimeout(progress.describe()) from exc
                raise BenchFailure(f"something timed out: {exc!r}") from exc

        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(bounded())
        report(args, results)
        print(f"\ntotal run time {time.monotonic() - began:.1f} s")
        failures = results.failures()
        if failures:
            print(
                "\nbench: FAILED: the figures above are not those of the normal path:",
                file=sys.stderr,
            )
            for failure in failures:
                print(f"  - {failure}", file=sys.stderr)
            status = EXIT_FAILURE
    except BenchTimeout as exc:
        if results is not None and results.unloaded_created:
            report(args, results, partial=True)
        print(
            f"\nbench: TIMEOUT: --deadline {args.deadline:g}s passed during {exc}",
            file=sys.stderr,
        )
        status = EXIT_TIMEOUT
    except (BenchFailure, StackError) as exc:
        print(f"\nbench: FAILED during {progress.describe()}: {exc}", file=sys.stderr)
        status = EXIT_FAILURE
        keep = not isinstance(exc, NotEnoughTime)
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        status = EXIT_FAILURE
    finally:
        # the clean-up gets its own bounded time
        signal.setitimer(signal.ITIMER_REAL, CLEANUP_S)
        try:
            if stack is not None:
                stack.stop()
            clean_broker_and_redis(env)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if args.keep or (status and keep):
            print(f"logs and data kept in {work}", file=sys.stderr if status else sys.stdout)
        else:
            shutil.rmtree(work, ignore_errors=True)
        watchdog.cancel()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
