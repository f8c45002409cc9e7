"""Benchmark of the gateway path against a bare FastAPI endpoint, in one run.

What is measured, each with the same closed-loop load (`--concurrency` connections, default
32, kept busy for `--duration` seconds, default 10, after `--warmup` seconds, default 2,
whose figures are thrown away):

(a) bare: `GET /user/me` on a bare FastAPI app under uvicorn (bench/_bare_app.py, its own
    process, the services' uvicorn options, one worker) that returns the very JSON body the
    real endpoint returned: no middleware, no token, no database. What one Python process
    serving this body can do on this machine.
(b) gateway: authenticated `GET /user/me` through the real gateway of an isolated stack
    (scripts/devstack.py): token verified at the edge (cached verification), then one Redis
    script call (per-IP and per-user GCRA limits, the revocation check, the edge's read model
    of /user/me), and the cached answer sent; the answer was composed once from auth's profile
    and interviews' quota and stays until something it shows changes. This is the path a
    signed-in user's page loads take. The report prints how many answers came from the read
    model (hits) and how many were composed (misses) during the whole bench.
(d) composed (skip with `--no-compose`): the same request through a second gateway process with
    ME_CACHE_SECONDS=0, so every answer is composed: auth's profile and interviews' quota
    fetched in parallel over the pooled aiohttp session and merged, each service verifying
    the token again and reading Mongo. What a first read, or a read after a change, costs.
(c) hop (skip with `--no-hop`): the gateway's own cost, with a cheap upstream: a second
    gateway process whose `INTERVIEWS_URL` is the bare app, `GET /questions` through it
    (same edge work as (b), the same body back, but no auth service and no Mongo).

For each: requests/s, p50 and p99 latency, errors (non-2xx answers and socket errors), and
the CPU each process spent per request (from /proc: the gateway, auth, interviews, the
Mongo-wire server, Redis, the bare app, the load generator, and the machine as a whole, so load
from anything else shows). The headline is gateway/bare in requests/s; the goal is >= 35%.

The load generator runs in its own process: `wrk` when installed (`apt-get install -y wrk`),
otherwise an aiohttp closed-loop generator (this script re-run as a subprocess); choose with
`--client wrk|python`.

The stack is the whole platform (all five services; `--services` narrows it, at the risk of
the gateway calling a service that is not there) and a Mongo-wire server (secantusdb, unless
MONGO_URI is set), with its own exchange, queue prefix, databases and Redis key prefix, rate
limits high enough never to throttle (RATE_LIMIT_IP / RATE_LIMIT_USER = 1000000/60), and
LOG_LEVEL=WARNING so per-request log lines are not part of what is measured. Any warning or
error a process logs during a measured run fails the bench (requests in flight when the load
generator stops end as 499 at info level, not as errors): a path that degrades (an upstream
unreachable, Redis down) answers 200 too, but is not the path meant to be measured. Its
queues, exchange and Redis keys are removed at the end; its data lives in a temp dir (`--keep`
keeps it, with the logs).

The machine is shared with whatever else runs on it: each run prints how many cores were
busy with work that is not the bench's, and warns when that is more than a quarter core;
`--rounds N` alternates the targets N times and reports the median round of each.

Run::

    cd /work/main && uv run python bench/gateway.py
    uv run python bench/gateway.py --concurrency 64 --duration 20
    uv run python bench/gateway.py --client python --no-hop

Exit status: 0 when every phase ran without errors (whatever the ratio; with
`--enforce-goal`, 3 when the ratio is below the goal), 1 on a failure (the stack did not
start, a response was not the expected one, a phase had errors or logged warnings), 2 when
`--deadline` seconds passed (default: 180 s plus what the rounds need).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from _stats import BenchFailure

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# This file is named like the gateway package: keep bench/ off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from stackutil import LogWatch  # noqa: E402 - found through the path set just above

GOAL_RATIO = 0.35
EXIT_FAILURE = 1
EXIT_TIMEOUT = 2
EXIT_GOAL = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD = "Quota-Lantern-2024"  # auth refuses a password that contains the name

WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50_us\":%d,\"p99_us\":%d," ..
    "\"mean_us\":%.1f,\"max_us\":%d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


class BenchTimeout(Exception):
    pass


# ---------------------------------------------------------------------------------------
# load generation


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    error_detail: str
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    client_cpu_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds in the run
    machine_busy_s: float = 0.0
    # process -> (warnings and errors it logged during warm-up and run, the first of them)
    log_problems: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def other_cores(self) -> float:
        """Cores busy on average with work that is none of ours (other load on the box)."""
        ours = sum(self.cpu.values()) + self.client_cpu_s
        return max(0.0, self.machine_busy_s - ours) / self.seconds if self.seconds else 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    url: str,
    headers: Mapping[str, str],
    concurrency: int,
    seconds: float,
    threads: int,
    script: Path,
) -> LoadResult:
    command = [
        "wrk",
        f"-t{min(threads, concurrency)}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    before = _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    client_cpu = _children_cpu() - before
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchFailure(f"wrk failed ({done.returncode}): {done.stdout[-800:]}{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    kinds = ("connect", "read", "write", "status", "timeout")
    errors = sum(data[k] for k in kinds)
    detail = ", ".join(f"{k} {data[k]}" for k in kinds if data[k]) or "-"
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        error_detail=detail.replace("status", "non-2xx"),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        client_cpu_s=client_cpu,
    )


def run_python_client(
    url: str, headers: Mapping[str, str], concurrency: int, seconds: float
) -> LoadResult:
    config = {"url": url, "headers": dict(headers), "concurrency": concurrency, "seconds": seconds}
    before = _children_cpu()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "_loadgen", json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    client_cpu = _children_cpu() - before
    if done.returncode != 0:
        raise BenchFailure(f"load generator failed ({done.returncode}): {done.stderr[-1500:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(**data, client_cpu_s=client_cpu)


def _loadgen_main(config: dict[str, Any]) -> None:
    """The aiohttp closed-loop generator (run as `gateway.py _loadgen <json>`)."""
    import aiohttp

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> dict[str, Any]:
        latencies: list[int] = []
        errors: dict[str, int] = {}
        connector = aiohttp.TCPConnector(limit=config["concurrency"], force_close=False)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=5)
        ) as session:
            start = time.perf_counter()
            deadline = start + config["seconds"]

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter_ns()
                    try:
                        async with session.get(config["url"], headers=config["headers"]) as r:
                            await r.read()
                            ok = 200 <= r.status < 300
                    except Exception as exc:  # counted; the loop goes on
                        kind = type(exc).__name__
                        errors[kind] = errors.get(kind, 0) + 1
                        continue
                    latencies.append(time.perf_counter_ns() - t0)
                    if not ok:
                        errors["non-2xx"] = errors.get("non-2xx", 0) + 1

            await asyncio.gather(*(worker() for _ in range(config["concurrency"])))
            elapsed = time.perf_counter() - start
        latencies.sort()

        def pct(p: float) -> float:
            if not latencies:
                return 0.0
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] / 1e6

        return {
            "requests": len(latencies),
            "seconds": elapsed,
            "errors": sum(errors.values()),
            "error_detail": ", ".join(f"{k} {v}" for k, v in errors.items()) or "-",
            "p50_ms": pct(50),
            "p99_ms": pct(99),
            "mean_ms": sum(latencies) / len(latencies) / 1e6 if latencies else 0.0,
            "max_ms": latencies[-1] / 1e6 if latencies else 0.0,
        }

    print(json.dumps(asyncio.run(main())))


# ---------------------------------------------------------------------------------------
# CPU accounting from /proc


def _proc_stats() -> Iterator[tuple[int, str, int, float]]:
    """(pid, comm, process group, CPU seconds) of every process visible in /proc."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        yield int(entry.name), comm, int(rest[2]), (int(rest[11]) + int(rest[12])) / CLK_TCK


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, since boot)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


class CpuMeter:
    """CPU seconds per named process group (what a service started, threads included)."""

    def __init__(self, groups: Mapping[str, int]) -> None:
        self.groups = dict(groups)  # name -> process group id

    def snapshot(self) -> tuple[dict[str, float], float]:
        by_name = dict.fromkeys(self.groups, 0.0)
        by_name["redis"] = 0.0
        names = {pgid: name for name, pgid in self.groups.items()}
        for _pid, comm, pgrp, cpu in _proc_stats():
            if pgrp in names:
                by_name[names[pgrp]] += cpu
            elif comm == "redis-server":
                by_name["redis"] += cpu
        return by_name, _machine_busy()

    @staticmethod
    def delta(
        before: tuple[dict[str, float], float], after: tuple[dict[str, float], float]
    ) -> tuple[dict[str, float], float]:
        return {k: after[0][k] - before[0].get(k, 0.0) for k in after[0]}, after[1] - before[1]


# ---------------------------------------------------------------------------------------
# the platform and the bare app


def _http() -> Any:
    import httpx

    return httpx.Client(timeout=10.0, trust_env=False)


def sign_up(gateway_url: str) -> tuple[str, dict[str, Any]]:
    """Register and log in through the gateway; (access token, the real /user/me body)."""
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    with _http() as http:
        r = http.post(
            f"{gateway_url}/auth/register",
            json={"name": "Bench User", "email": email, "password": PASSWORD},
        )
        if r.status_code != 201:
            raise BenchFailure(f"register answered {r.status_code}: {r.text[:300]}")
        r = http.post(f"{gateway_url}/auth/login", json={"email": email, "password": PASSWORD})
        if r.status_code != 200:
            raise BenchFailure(f"login answered {r.status_code}: {r.text[:300]}")
        token = r.json()["access_token"]
        r = http.get(f"{gateway_url}/user/me", headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            raise BenchFailure(f"GET /user/me answered {r.status_code}: {r.text[:300]}")
        return token, r.json()


def check_answer(url: str, headers: Mapping[str, str], expected: dict[str, Any]) -> int:
    """Fail unless `url` answers 200 with the expected JSON; the body's size in bytes."""
    with _http() as http:
        r = http.get(url, headers=dict(headers))
    if r.status_code != 200 or r.json() != expected:
        raise BenchFailure(f"{url} answered {r.status_code} {r.text[:300]!r}, not the real body")
    return len(r.content)


def start_bare_app(port: int, body_file: Path, log_path: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn",
        "--app-dir", str(BENCH_DIR), "--factory", "_bare_app:create_app",
        "--host", "127.0.0.1", "--port", str(port),
        # the services' options (scripts/devstack.py); their logging config keeps uvicorn's
        # access log off, which --log-level warning does here
        "--no-proxy-headers", "--no-server-header", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "PYTHONUNBUFFERED": "1"}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_answering(url: str, popen: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    from devstack import probe

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise BenchFailure(f"{url}: the process exited with {popen.returncode}")
        if probe(url)[0] == 200:
            return
        time.sleep(0.1)
    raise BenchFailure(f"{url} did not answer within {timeout:g}s")


def _pid(stack: Any, name: str) -> int:
    """The process (group) id of one of a started stack's processes."""
    popen = stack.popen(name)
    if popen is None:
        raise BenchFailure(f"{name} is not running")
    return int(popen.pid)


def stop_process(popen: subprocess.Popen[bytes] | None) -> None:
    if popen is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()


def clean_up_shared(env: Mapping[str, str], external_mongo_uri: str | None) -> None:
    """Remove what the stack left in the shared RabbitMQ, Redis and (if not ours) Mongo."""
    from stackutil import delete_queues_with_prefix

    delete_queues_with_prefix(env["QUEUE_PREFIX"])
    rabbitmq_url = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    with contextlib.suppress(Exception):
        from servicekit.testing import delete_test_topology

        asyncio.run(
            asyncio.wait_for(
                delete_test_topology(rabbitmq_url, env["QUEUE_PREFIX"], [], env["EVENTS_EXCHANGE"]),
                timeout=15,
            )
        )
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(
            os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), socket_timeout=5
        )
        keys = list(client.scan_iter(match=env["REDIS_KEY_PREFIX"] + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    if external_mongo_uri:
        with contextlib.suppress(Exception):
            from pymongo import MongoClient

            mongo: MongoClient[dict[str, Any]] = MongoClient(
                external_mongo_uri, serverSelectionTimeoutMS=5000
            )
            with mongo:
                for name in mongo.list_database_names():
                    if name.startswith(env["MONGO_DB_PREFIX"]):
                        mongo.drop_database(name)


# ---------------------------------------------------------------------------------------
# reporting


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def describe_machine(args: argparse.Namespace, client: str) -> None:
    cpu_model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    print("== machine and settings")
    print(
        f"nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), cpu {cpu_model}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        f"python {platform.python_version()}, uvicorn {_version('uvicorn')} "
        f"(uvloop {_version('uvloop')}, httptools {_version('httptools')}), "
        f"fastapi {_version('fastapi')}, aiohttp {_version('aiohttp')}, "
        f"redis-py {_version('redis')} (hiredis {_version('hiredis')}), pyjwt {_version('pyjwt')}"
    )
    if client == "wrk":
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        client_desc = f"{wrk.split(' Copyright')[0].strip()}, {args.wrk_threads} thread(s)"
    else:
        client_desc = "aiohttp closed loop (subprocess)"
    print(
        f"load: {client_desc}, {args.concurrency} connections, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s measured per target; every server: uvicorn, one worker, "
        "--no-proxy-headers --no-server-header"
    )


LABELS = {
    "bare": "(a) bare FastAPI  GET /user/me",
    "gateway": "(b) via the gateway  GET /user/me",
    "hop": "(c) gateway -> bare  GET /questions",
    "compose": "(d) composed (no read model) /user/me",
}
NOISY_CORES = 0.25
# idle along during the bench; their CPU is summed as one column
OTHER_SERVICES = ("ai-runner", "billing")


def read_model_counts(gateway_url: str) -> dict[str, float]:
    """gateway_me_cache_total by result, from the gateway's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"{gateway_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('gateway_me_cache_total{result="'):
            label, _, value = line.partition("} ")
            counts[label.split('"')[1]] = float(value)
    return counts


def median_run(runs: list[LoadResult]) -> LoadResult:
    return sorted(runs, key=lambda r: r.rps)[(len(runs) - 1) // 2]


def report(results: dict[str, LoadResult], body_bytes: int, rounds: int) -> None:
    labels = LABELS
    print()
    which = f"median of {rounds} rounds by req/s, " if rounds > 1 else ""
    print(f"== results ({which}response body {body_bytes} bytes)")
    print(f"{'target':<38}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for name, r in results.items():
        print(
            f"{labels[name]:<38}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.max_ms:>9.1f}{r.errors:>8}" + (f"  ({r.error_detail})" if r.errors else "")
        )
    print()
    print("== CPU per request (ms of CPU time per request, from /proc, during the measured run)")
    columns = [
        "gateway", "auth", "interviews", "mongo", "redis", "bare", "hop-gateway",
        "compose-gateway", "other-services",
    ]  # fmt: skip
    shown = [c for c in columns if any(r.cpu.get(c, 0.0) > 0.005 for r in results.values())]
    heads = [*shown, "load-gen", "ours", "machine"]
    print(f"{'target':<10}" + "".join(f"{c:>{max(9, len(c) + 2)}}" for c in heads))
    for name, r in results.items():
        n = max(r.requests, 1)
        ours = sum(r.cpu.values()) + r.client_cpu_s
        values = [r.cpu.get(c, 0.0) for c in shown] + [r.client_cpu_s, ours, r.machine_busy_s]
        print(
            f"{name:<10}"
            + "".join(
                f"{v * 1000 / n:>{max(9, len(c) + 2)}.3f}"
                for c, v in zip(heads, values, strict=True)
            )
        )
    print(
        "(ours = the processes above; machine = every process on the box, from /proc/stat)\n"
        "cores busy on average (of "
        f"{os.cpu_count()}): "
        + ", ".join(
            f"{name} {r.machine_busy_s / r.seconds:.2f} (not ours {r.other_cores:.2f})"
            for name, r in results.items()
        )
    )
    noisy = [name for name, r in results.items() if r.other_cores > NOISY_CORES]
    if noisy:
        print(
            f"WARNING: other load on the machine during {', '.join(noisy)} "
            f"(> {NOISY_CORES} cores not ours): those req/s are low, and the CPU per request "
            "somewhat high (shared caches); re-run on a quiet machine, or use --rounds"
        )


# ---------------------------------------------------------------------------------------
# main


def measure(
    name: str,
    url: str,
    headers: Mapping[str, str],
    args: argparse.Namespace,
    client: str,
    meter: CpuMeter,
    logs: LogWatch,
    wrk_script: Path,
) -> LoadResult:
    def load(seconds: float) -> LoadResult:
        if client == "wrk":
            return run_wrk(url, headers, args.concurrency, seconds, args.wrk_threads, wrk_script)
        return run_python_client(url, headers, args.concurrency, seconds)

    logs.mark()
    if args.warmup > 0:
        load(args.warmup)
    before = meter.snapshot()
    result = load(args.duration)
    result.cpu, result.machine_busy_s = CpuMeter.delta(before, meter.snapshot())
    result.log_problems = logs.problems()
    result.cpu["other-services"] = sum(result.cpu.pop(n, 0.0) for n in OTHER_SERVICES)
    print(
        f"   {LABELS[name]:<38}{result.rps:>7.0f} req/s, p50 {result.p50_ms:6.2f} ms, "
        f"p99 {result.p99_ms:6.2f} ms, errors {result.errors}, "
        f"other load {result.other_cores:.2f} cores",
        flush=True,
    )
    for process, (count, first) in result.log_problems.items():
        print(f"   ! {process} logged {count} warnings/errors, the first: {first}", flush=True)
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=32)
    parser.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds, thrown away")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--no-hop", action="store_true", help="skip (c), the gateway hop alone")
    parser.add_argument(
        "--no-compose", action="store_true", help="skip (d), /user/me without the read model"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every target this many times, alternating; "
        "the median round (by req/s) is reported",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds for everything (default: 180 + what the rounds need)",
    )
    parser.add_argument(
        "--services",
        default=None,
        help="comma-separated services to start (default: all five); the gateway is always one",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and its logs")
    parser.add_argument(
        "--enforce-goal", action="store_true", help=f"exit {EXIT_GOAL} if gateway/bare < goal"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0 or args.rounds < 1:
        print("--concurrency, --duration and --rounds must be positive", file=sys.stderr)
        return EXIT_FAILURE
    if args.deadline is None:
        args.deadline = 180 + args.rounds * 4 * (args.warmup + args.duration + 15)
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    elif client == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk, or --client python", file=sys.stderr)
        return EXIT_FAILURE

    timed_out = False

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        nonlocal timed_out
        if timed_out:  # the clean-up itself hung
            print("bench: clean-up did not finish in time; giving up", file=sys.stderr)
            os._exit(EXIT_TIMEOUT)
        timed_out = True
        raise BenchTimeout(f"the bench did not finish within --deadline {args.deadline:g}s")

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.setitimer(signal.ITIMER_REAL, args.deadline)

    from devstack import Stack, StackError, free_ports

    tag = uuid.uuid4().hex[:8]
    env = {
        "EVENTS_EXCHANGE": f"mi.events.bench{tag}",
        "QUEUE_PREFIX": f"bench{tag}.",
        "MONGO_DB_PREFIX": f"bench{tag}_",
        "REDIS_KEY_PREFIX": f"bench{tag}:",
        "RATE_LIMIT_IP": "1000000/60",
        "RATE_LIMIT_USER": "1000000/60",
        "LOG_LEVEL": "WARNING",
    }
    work = Path(tempfile.mkdtemp(prefix="mi-bench-gateway-"))
    stack: Stack | None = None
    hop_stack: Stack | None = None
    compose_stack: Stack | None = None
    bare: subprocess.Popen[bytes] | None = None
    status = 0
    try:
        describe_machine(args, client)
        started = time.monotonic()
        services = None
        if args.services:
            services = ["gateway", *(n.strip() for n in args.services.split(",") if n.strip())]
            services = list(dict.fromkeys(services))
        stack = Stack(work / "stack", ports="auto", env=env, services=services)
        stack.start(timeout=120)
        print(f"stack up in {time.monotonic() - started:.1f} s: {stack.ports}", flush=True)
        token, body = sign_up(stack.gateway_url)
        auth_header = {"Authorization": f"Bearer {token}"}

        body_file = work / "user-me.json"
        body_file.write_text(json.dumps(body))
        (bare_port,) = free_ports(1)
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare = start_bare_app(bare_port, body_file, work / "bare.log")
        wait_answering(f"{bare_url}/healthz", bare)
        body_bytes = check_answer(f"{bare_url}/user/me", {}, body)
        check_answer(f"{stack.gateway_url}/user/me", auth_header, body)

        groups = {name: _pid(stack, name) for name in stack.services}
        if "mongo" in stack.ports:
            groups["mongo"] = _pid(stack, "mongo")
        groups["bare"] = bare.pid
        if not args.no_hop:
            hop_env = env | {"AUTH_URL": stack.service_url("auth"), "INTERVIEWS_URL": bare_url}
            hop_stack = Stack(
                work / "hop",
                ports="auto",
                env=hop_env,
                mongo_uri=stack.mongo_uri,
                services=["gateway"],
            )
            hop_stack.start(timeout=60)
            check_answer(f"{hop_stack.gateway_url}/questions", auth_header, body)
            groups["hop-gateway"] = _pid(hop_stack, "gateway")
        if not args.no_compose:
            compose_env = env | {
                "AUTH_URL": stack.service_url("auth"),
                "INTERVIEWS_URL": stack.service_url("interviews"),
                "ME_CACHE_SECONDS": "0",
            }
            compose_stack = Stack(
                work / "compose",
                ports="auto",
                env=compose_env,
                mongo_uri=stack.mongo_uri,
                services=["gateway"],
            )
            compose_stack.start(timeout=60)
            check_answer(f"{compose_stack.gateway_url}/user/me", auth_header, body)
            groups["compose-gateway"] = _pid(compose_stack, "gateway")
        meter = CpuMeter(groups)
        log_paths = {name: stack.log_path(name) for name in stack.services}
        log_paths["bare"] = work / "bare.log"
        if hop_stack is not None:
            log_paths["hop-gateway"] = hop_stack.log_path("gateway")
        if compose_stack is not None:
            log_paths["compose-gateway"] = compose_stack.log_path("gateway")
        logs = LogWatch(log_paths)

        wrk_script = work / "report.lua"
        wrk_script.write_text(WRK_SCRIPT)
        targets = [
            ("bare", f"{bare_url}/user/me", {}),
            ("gateway", f"{stack.gateway_url}/user/me", auth_header),
        ]
        if hop_stack is not None:
            targets.append(("hop", f"{hop_stack.gateway_url}/questions", auth_header))
        if compose_stack is not None:
            targets.append(("compose", f"{compose_stack.gateway_url}/user/me", auth_header))
        for name, url, _ in targets:
            print(f"{LABELS[name]}: {url}")
        runs: dict[str, list[LoadResult]] = {name: [] for name, _, _ in targets}
        for round_no in range(1, args.rounds + 1):
            print(f"-- round {round_no}/{args.rounds}", flush=True)
            for name, url, headers in targets:
                runs[name].append(
                    measure(name, url, headers, args, client, meter, logs, wrk_script)
                )
        results = {name: median_run(rs) for name, rs in runs.items()}

        report(results, body_bytes, args.rounds)
        ratio = results["gateway"].rps / results["bare"].rps if results["bare"].rps else 0.0
        print()
        verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
        print(
            f"== gateway/bare = {results['gateway'].rps:.0f} / {results['bare'].rps:.0f} "
            f"req/s = {ratio:.1%} (goal >= {GOAL_RATIO:.0%}: {verdict})"
        )
        if "hop" in results:
            hop_ratio = results["hop"].rps / results["bare"].rps if results["bare"].rps else 0.0
            print(f"   hop/bare = {hop_ratio:.1%} (the gateway alone, with a free upstream)")
        if "compose" in results:
            compose_ratio = (
                results["compose"].rps / results["bare"].rps if results["bare"].rps else 0.0
            )
            print(f"   composed/bare = {compose_ratio:.1%} (/user/me asked of auth and interviews)")
        hits = read_model_counts(stack.gateway_url)
        served = hits.get("hit", 0) + hits.get("miss", 0)
        print(
            f"   read model of (b)'s gateway over the whole bench: {hits.get('hit', 0):.0f} hits, "
            f"{hits.get('miss', 0):.0f} misses ({hits.get('hit', 0) / max(served, 1):.2%} hits), "
            f"{hits.get('stored', 0):.0f} stored, {hits.get('refused', 0):.0f} fills refused"
        )
        failed = [n for n, rs in runs.items() if any(r.errors for r in rs)]
        if failed:
            raise BenchFailure(f"errors during the measured run of: {', '.join(failed)}")
        degraded = [n for n, rs in runs.items() if any(r.log_problems for r in rs)]
        if degraded:
            raise BenchFailure(
                f"processes logged warnings or errors under load in: {', '.join(degraded)} "
                "(see the lines marked '!'): the path measured is not the normal one"
            )
        if args.enforce_goal and ratio < GOAL_RATIO:
            status = EXIT_GOAL
    except BenchTimeout as exc:
        print(f"\nbench: TIMEOUT: {exc}", file=sys.stderr)
        status = EXIT_TIMEOUT
    except (BenchFailure, StackError) as exc:
        print(f"\nbench: FAILED: {exc}", file=sys.stderr)
        status = EXIT_FAILURE
    except subprocess.TimeoutExpired as exc:
        print(f"\nbench: FAILED: the load generator hung: {exc}", file=sys.stderr)
        status = EXIT_FAILURE
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        status = EXIT_FAILURE
    finally:
        # the clean-up gets its own bounded time; a second alarm gives up hard
        signal.setitimer(signal.ITIMER_REAL, 90.0)
        timed_out = True
        try:
            stop_process(bare)
            if hop_stack is not None:
                hop_stack.stop()
            if compose_stack is not None:
                compose_stack.stop()
            if stack is not None:
                stack.stop()
            external = None
            if stack is not None and "mongo" not in stack.ports:
                external = stack.mongo_uri
            clean_up_shared(env, external)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if args.keep or status not in (0, EXIT_GOAL):
            print(f"logs and data kept in {work}", file=sys.stderr if status else sys.stdout)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_loadgen":
        _loadgen_main(json.loads(sys.argv[2]))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
