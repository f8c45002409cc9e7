"""Mongo commands per use case: what each step a user takes costs the store.

Every service counts the commands its PyMongo client sends (servicekit.mongo's
CommandListener -> `mongo_commands_total{service, command, collection, origin, result}` on
its /metrics). This bench starts an isolated stack (scripts/devstack.py, `ports="auto"`: its
own exchange, queue prefix, databases and Redis keys, and its own secantusdb), walks one user
through the product through the gateway, and for each step reads every service's counters
before and after it, once the step and everything it set off (events, jobs, mail) is done.

Steps (each repeated `--rounds` times with a new user, figures are the mean per round):

- register: POST /auth/register, and its follow-ups (billing opens the free plan,
  notifications store the address and mail the verification link)
- login: POST /auth/login
- /user/me miss: the first GET /user/me (the gateway asks auth and interviews)
- start interview: POST /interviews, the request's own commands (origin `work`)
- SessionRequested -> SessionReady: everything else that POST sets off (the relay
  publishing, the AI runner preparing, interviews folding SessionReady in)
- submit: POST /interviews/{id}/submit, the request's own commands
- score: everything else it sets off (AnswersSubmitted -> scored -> SessionScored ->
  completed, the report mail)
- webhook: paying on the local checkout (its signed webhook to billing, PlanUpgraded to
  auth, interviews and notifications)

What is left out of a step: commands of a background loop (`origin` not `work` nor
`consume:*`) that found nothing (`result="empty"`: the relay, job and mail polls that had
no work), the relay's and job counter's housekeeping (lease renewals, backlog gauges), and
`ping`/`hello`/`endSessions`. Those do not depend on the traffic; the bench reports them
apart, as commands per second of an idle stack. A loop's read that found nothing inside a
round that did find work (the AI runner's second claim query, say) is left out too, so a
step's figure can be one or two low; a poll that found work is counted in full.

Run (RabbitMQ and Redis must be up; a secantusdb server is started unless MONGO_URI is set):

    uv run python bench/store_ops.py               # 3 rounds
    uv run python bench/store_ops.py --rounds 5 --json out.json

Then, `--latency` sessions (default 10) one at a time: the wall time from sending POST
/interviews to the first GET /interviews/{id} (polled every 20 ms) that shows `ready`, and
from sending the submit to `completed`: the follow-up path's own latency, without queueing.

The clean-up deletes the stack's queues, exchange and Redis keys, also after a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from _stack import clean_broker_and_redis
from _stats import BenchFailure, Dist

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# bench/interviews.py is named like the interviews package: keep bench/ off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "chaos"))

from driver import answers_for  # noqa: E402  (the chaos suite's simulated candidate)

PASSWORD = "Count-Every-Trip-42"
MONGO_SERVICES = ("auth", "interviews", "ai-runner", "billing", "notifications")
NOT_WORK = {"ping", "hello", "isMaster", "ismaster", "endSessions", "buildInfo"}
COLUMNS = (
    "find",
    "getMore",
    "aggregate",
    "insert",
    "update",
    "findAndModify",
    "delete",
    "commitTransaction",
    "abortTransaction",
)
QUIET_S = 1.0  # a step is over once nothing but idle polling happened for this long
STEP_TIMEOUT_S = 60.0

Key = tuple[str, str, str, str, str]  # service, command, collection, origin, result


def is_background(origin: str) -> bool:
    return origin != "work" and not origin.startswith("consume:")


def is_idle(key: Key) -> bool:
    _service, command, _collection, origin, result = key
    if command in NOT_WORK or origin.endswith("housekeeping"):
        return True
    return is_background(origin) and result == "empty"


class Meter:
    """Reads `mongo_commands_total` and `events_consumed_total` from every service."""

    def __init__(self, session: Any, urls: Mapping[str, str]) -> None:
        self.session = session
        self.urls = urls

    async def read(self) -> tuple[Counter[Key], Counter[tuple[str, str]]]:
        from prometheus_client.parser import text_string_to_metric_families

        commands: Counter[Key] = Counter()
        consumed: Counter[tuple[str, str]] = Counter()

        async def one(name: str, url: str) -> None:
            async with self.session.get(url + "/metrics") as response:
                text = await response.text()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    labels = sample.labels
                    if sample.name == "mongo_commands_total":
                        key = (
                            name,
                            labels["command"],
                            labels["collection"],
                            labels["origin"],
                            labels["result"],
                        )
                        commands[key] += int(sample.value)
                    elif (
                        sample.name == "events_consumed_total"
                        and labels.get("outcome") == "handled"
                    ):
                        consumed[(name, labels["event_type"])] += int(sample.value)

        await asyncio.gather(*(one(n, u) for n, u in self.urls.items()))
        return commands, consumed


async def step(
    meter: Meter,
    action: Callable[[], Awaitable[Any]],
    done: Callable[[Counter[tuple[str, str]]], bool],
) -> tuple[Any, Counter[Key]]:
    """Run `action`; once `done(consumed events)` holds and no command but idle polling was
    sent for QUIET_S, return its result and the commands sent meanwhile."""
    before, _ = await meter.read()
    result = await action()
    deadline = time.monotonic() + STEP_TIMEOUT_S
    last: Counter[Key] | None = None
    quiet_since = time.monotonic()
    while True:
        now, consumed = await meter.read()
        work = Counter({k: v for k, v in (now - before).items() if not is_idle(k)})
        if work != last:
            last, quiet_since = work, time.monotonic()
        elif done(consumed) and time.monotonic() - quiet_since >= QUIET_S:
            return result, work
        if time.monotonic() > deadline:
            raise BenchFailure(f"a step did not settle in {STEP_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.1)


def split(commands: Counter[Key], request_service: str) -> tuple[Counter[Key], Counter[Key]]:
    """The request's own commands (origin `work` in the service that answered it), and the
    rest (what it set off)."""
    own: Counter[Key] = Counter()
    rest: Counter[Key] = Counter()
    for key, count in commands.items():
        (own if key[0] == request_service and key[3] == "work" else rest)[key] += count
    return own, rest


async def walk(gateway: str, meter: Meter, session: Any) -> dict[str, Counter[Key]]:
    """One user through the product; the commands of each step."""
    out: dict[str, Counter[Key]] = {}
    email = f"ops-{uuid.uuid4().hex[:10]}@example.com"

    async def call(method: str, path: str, expect: int, **kwargs: Any) -> Any:
        async with session.request(method, gateway + path, **kwargs) as response:
            body = await response.read()
            if response.status != expect:
                raise BenchFailure(f"{method} {path}: {response.status} {body[:300]!r}")
            return json.loads(body) if body and response.content_type.endswith("json") else None

    def handled(base: Counter[tuple[str, str]], *wanted: tuple[str, str]) -> Callable[..., bool]:
        return lambda consumed: all(consumed[w] > base[w] for w in wanted)

    _, base = await meter.read()
    _, out["register"] = await step(
        meter,
        lambda: call(
            "POST",
            "/auth/register",
            201,
            json={"name": "Ops Bench", "email": email, "password": PASSWORD},
        ),
        handled(base, ("billing", "UserRegistered"), ("notifications", "UserRegistered")),
    )
    login, out["login"] = await step(
        meter,
        lambda: call("POST", "/auth/login", 200, json={"email": email, "password": PASSWORD}),
        lambda _: True,
    )
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    _, out["/user/me miss"] = await step(
        meter, lambda: call("GET", "/user/me", 200, headers=auth), lambda _: True
    )

    _, base = await meter.read()
    started, commands = await step(
        meter,
        lambda: call("POST", "/interviews", 202, json={"type": "mixed"}, headers=auth),
        handled(base, ("interviews", "SessionReady")),
    )
    out["start interview"], out["SessionRequested -> SessionReady"] = split(commands, "interviews")
    sid = started["id"]
    view = await call("GET", f"/interviews/{sid}", 200, headers=auth)
    if view["status"] != "ready":
        raise BenchFailure(f"session {sid} is {view['status']}, not ready")
    answers = answers_for(view["questions"])

    _, base = await meter.read()
    _, commands = await step(
        meter,
        lambda: call(
            "POST", f"/interviews/{sid}/submit", 202, json={"answers": answers}, headers=auth
        ),
        handled(base, ("interviews", "SessionScored")),
    )
    out["submit"], out["score"] = split(commands, "interviews")
    view = await call("GET", f"/interviews/{sid}", 200, headers=auth)
    if view["status"] != "completed":
        raise BenchFailure(f"session {sid} is {view['status']}, not completed")

    checkout = await call("POST", "/billing/checkout", 201, json={"plan": "premium"}, headers=auth)
    _, base = await meter.read()
    _, out["webhook"] = await step(
        meter,
        lambda: call(
            "POST",
            checkout["checkout_url"] + "/pay",
            303,
            headers={"content-type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
        ),
        handled(base, ("interviews", "PlanUpgraded"), ("auth", "PlanUpgraded")),
    )
    return out


async def latencies(gateway: str, session: Any, count: int) -> dict[str, Dist]:
    """POST /interviews -> ready and submit -> completed, one session at a time."""
    ready_ms: list[float] = []
    completed_ms: list[float] = []

    async def call(method: str, path: str, expect: int, **kwargs: Any) -> Any:
        async with session.request(method, gateway + path, **kwargs) as response:
            body = await response.read()
            if response.status != expect:
                raise BenchFailure(f"{method} {path}: {response.status} {body[:300]!r}")
            return json.loads(body) if body else None

    async def until(sid: str, auth: dict[str, str], status: str, t0: float) -> dict[str, Any]:
        deadline = t0 + STEP_TIMEOUT_S
        while time.perf_counter() < deadline:
            view: dict[str, Any] = await call("GET", f"/interviews/{sid}", 200, headers=auth)
            if view["status"] == status:
                return view
            if view["status"] == "failed":
                raise BenchFailure(f"session {sid} failed: {view.get('failure_reason')}")
            await asyncio.sleep(0.02)
        raise BenchFailure(f"session {sid} not {status} after {STEP_TIMEOUT_S:.0f} s")

    auth: dict[str, str] = {}
    for n in range(count):
        if n % 2 == 0:  # the free plan's two interviews a week: a new user every two
            email = f"lat-{uuid.uuid4().hex[:10]}@example.com"
            body = {"name": "Ops Latency", "email": email, "password": PASSWORD}
            await call("POST", "/auth/register", 201, json=body)
            login = await call(
                "POST", "/auth/login", 200, json={"email": email, "password": PASSWORD}
            )
            auth = {"Authorization": f"Bearer {login['access_token']}"}
        t0 = time.perf_counter()
        started = await call("POST", "/interviews", 202, json={"type": "mixed"}, headers=auth)
        view = await until(started["id"], auth, "ready", t0)
        ready_ms.append((time.perf_counter() - t0) * 1000)
        answers = answers_for(view["questions"])
        t0 = time.perf_counter()
        await call(
            "POST",
            f"/interviews/{started['id']}/submit",
            202,
            json={"answers": answers},
            headers=auth,
        )
        await until(started["id"], auth, "completed", t0)
        completed_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "POST /interviews -> ready": Dist.of(ready_ms),
        "submit -> completed": Dist.of(completed_ms),
    }


def table(rounds: list[dict[str, Counter[Key]]]) -> list[dict[str, Any]]:
    rows = []
    for name in rounds[0]:
        by_command: Counter[str] = Counter()
        for r in rounds:
            for key, count in r[name].items():
                by_command[key[1]] += count
        row: dict[str, Any] = {"use case": name}
        for column in (*COLUMNS, *sorted(set(by_command) - set(COLUMNS))):
            if by_command[column] or column in COLUMNS:
                row[column] = by_command[column] / len(rounds)
        row["total"] = sum(by_command.values()) / len(rounds)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = ["use case"] + [c for c in rows[0] if c != "use case"]
    extra = sorted({c for r in rows for c in r} - set(columns))
    columns += extra
    short = {
        "commitTransaction": "commit",
        "abortTransaction": "abort",
        "findAndModify": "findAndMod",
    }
    print("\n| " + " | ".join(short.get(c, c) for c in columns) + " |")
    print("|" + "|".join("---" if c == "use case" else "---:" for c in columns) + "|")
    for row in rows:
        cells = [row["use case"]] + [_num(row.get(c, 0)) for c in columns[1:]]
        print("| " + " | ".join(cells) + " |")


def _num(value: float) -> str:
    return "0" if value == 0 else (f"{value:.0f}" if value == int(value) else f"{value:.1f}")


def print_detail(rounds: list[dict[str, Counter[Key]]]) -> None:
    print("\nper step, by service / origin / command / collection (mean per round):")
    for name in rounds[0]:
        merged: Counter[tuple[str, str, str, str]] = Counter()
        for r in rounds:
            for (service, command, collection, origin, _result), count in r[name].items():
                merged[(service, origin, command, collection)] += count
        print(f"  {name}:")
        for (service, origin, command, collection), count in sorted(merged.items()):
            print(
                f"    {service:<14}{origin:<36}{command:<18}{collection:<22}"
                f"{_num(count / len(rounds)):>6}"
            )


def print_idle(idle: Counter[Key], seconds: float) -> None:
    grouped: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
    for (service, command, collection, origin, _result), count in idle.items():
        if command in NOT_WORK:
            continue
        grouped[(service, origin, command, collection)] += count
    total = sum(grouped.values())
    print(f"\nidle stack: {total / seconds:.1f} commands/s over {seconds:.0f} s (polls, leases):")
    for (service, origin, command, collection), count in sorted(grouped.items()):
        print(
            f"    {service:<14}{origin:<36}{command:<18}{collection:<22}{count / seconds:>6.2f}/s"
        )


async def measure(args: argparse.Namespace, stack: Any) -> dict[str, Any]:
    import aiohttp

    urls = {name: stack.service_url(name) for name in MONGO_SERVICES}
    async with aiohttp.ClientSession(trust_env=False) as session:
        meter = Meter(session, urls)
        # one warm-up walk (connection pools, JWKS, the question bank's first load)
        await walk(stack.gateway_url, meter, session)
        await asyncio.sleep(1.0)
        before, _ = await meter.read()
        await asyncio.sleep(args.idle_seconds)
        after, _ = await meter.read()
        idle = after - before
        rounds = [await walk(stack.gateway_url, meter, session) for _ in range(args.rounds)]
        timed = await latencies(stack.gateway_url, session, args.latency) if args.latency else {}
    rows = table(rounds)
    print_table(rows)
    print_detail(rounds)
    print_idle(idle, args.idle_seconds)
    if timed:
        print(f"\none session at a time ({args.latency}), ms:      n     p50     p99     max")
        for name, dist in timed.items():
            print(f"  {name:<34}{dist.n:>5}{dist.p50:>8.0f}{dist.p99:>8.0f}{dist.max:>8.0f}")
    return {
        "rounds": args.rounds,
        "use_cases": rows,
        "idle_per_second": sum(v for k, v in idle.items() if k[1] not in NOT_WORK)
        / args.idle_seconds,
        "latency_ms": {name: vars(dist) for name, dist in timed.items()},
    }


def main(argv: Iterable[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="users walked through (measured)")
    parser.add_argument("--latency", type=int, default=10, help="sessions timed one at a time")
    parser.add_argument("--log-level", default="WARNING", help="the services' log level")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle window measured")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = parser.parse_args(list(argv))

    from devstack import Stack, StackError

    tag = uuid.uuid4().hex[:8]
    unlimited = "1000000/60"
    env = {
        "EVENTS_EXCHANGE": f"mi.events.benchops{tag}",
        "QUEUE_PREFIX": f"benchops{tag}.",
        "MONGO_DB_PREFIX": f"benchops{tag}_",
        "REDIS_KEY_PREFIX": f"benchops{tag}:",
        "RATE_LIMIT_IP": unlimited,
        "RATE_LIMIT_USER": unlimited,
        "RATE_LIMIT_REGISTER_IP": unlimited,
        "RATE_LIMIT_LOGIN_IP": unlimited,
        "RATE_LIMIT_LOGIN_ACCOUNT": unlimited,
        "LOG_LEVEL": args.log_level,
        "ENVIRONMENT": "test",
    }
    work = Path(tempfile.mkdtemp(prefix="mi-bench-store-ops-"))
    stack = None
    status = 0
    try:
        stack = Stack(work / "stack", ports="auto", env=env)
        stack.start(timeout=120.0)
        figures = asyncio.run(measure(args, stack))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    except (BenchFailure, StackError) as exc:
        print(f"\nbench: FAILED: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        status = 1
    finally:
        if stack is not None:
            stack.stop()
        clean_broker_and_redis(env)
        if args.keep or status:
            print(f"logs and data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
