"""The fault-injection suite: one fault at a time under a steady load, invariants after each.

    python tests/chaos/suite.py            # `make chaos`: every scenario, prints the table
    python tests/chaos/suite.py --only "ai-runner,poison"   # names containing these

Scenarios that restart RabbitMQ or stop Redis touch servers every stack on the machine
shares (other people's test runs too): they run only with CHAOS_BROKER=1. The Mongo-wire
server is the stack's own and is always fair game.

A scenario: start `Load`, wait until the users have sessions in flight, inject the fault
(and, while it lasts, ask the gateway for something the dead part serves: it must answer a
problem+json 503 at once, never hang), recover, wait until new sessions go through again,
stop the load (each user finishes what it started), then `check_invariants`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for extra in (REPO / "scripts", REPO / "tests" / "e2e", HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import httpx  # noqa: E402
from devstack import MONGO, MongoWatch, Stack  # noqa: E402
from driver import (  # noqa: E402
    LOAD_ENV,
    PASSWORD,
    Load,
    check_invariants,
    format_table,
    queues_of,
)
from stackutil import delete_queues_with_prefix  # noqa: E402

# How long a fault lasts: long enough for the load to hit it several times.
DOWN_SECONDS = float(os.environ.get("CHAOS_DOWN_SECONDS", "3"))
REPLICAS = {"interviews": 2, "ai-runner": 2}
# What to ask the gateway while a part is down, and who serves it.
PROBES: dict[str, str] = {
    "auth": "/user/me",
    "interviews": "/interviews",
    "billing": "/billing/subscription",
    "notifications": "/user/me/notifications",
    MONGO: "/interviews",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[Stack, Callable[[str], dict[str, Any]]], dict[str, Any]]
    opt_in: str | None = None  # an environment variable that must be "1"


def kill_and_restart(process: str, down_seconds: float | None = None) -> Scenario:
    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        stack.kill(process, signal.SIGKILL)
        seen = probe(process)
        # the fault's duration (the load keeps running into it), not a synchronisation
        time.sleep(DOWN_SECONDS if down_seconds is None else down_seconds)
        stack.restart(process, timeout=90)
        return seen

    return Scenario(f"kill -9 {process}", inject)


def mongo_hung() -> Scenario:
    """The secantusdb hang as it looks from outside (frozen: SIGSTOP), left to `make run`'s
    watch, which saves its stacks and restarts it on the same data."""

    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        watch = MongoWatch(stack, lambda line: print(f"chaos [watch] {line}", flush=True))
        frozen = stack.popen(MONGO)
        assert frozen is not None
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            seen = probe(MONGO)
            deadline = time.monotonic() + 120
            while watch.restarts == 0:
                if time.monotonic() > deadline:
                    raise AssertionError("the watch did not restart the frozen server")
                watch.check()
                time.sleep(0.1)  # check() paces its own pings
        finally:
            watch.close()
            if frozen.poll() is None:  # the watch failed: do not leave a frozen process
                os.kill(frozen.pid, signal.SIGCONT)
        return seen

    return Scenario("mongo hung (SIGSTOP), the watch restarts it", inject)


def _amqp(stack: Stack) -> str:
    return stack.environment("gateway")["RABBITMQ_URL"]


def _consumer_urls(stack: Stack) -> list[str]:
    return [stack.service_url(n) for n in stack.services if n != "gateway"]


def poison() -> Scenario:
    """A message no consumer can read, put straight into each of the stack's work queues: each
    must be parked once (with its reason) while the load goes on untouched."""

    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        import asyncio

        import aio_pika

        work = sorted(q for q in queues_of(_consumer_urls(stack)) if not q.endswith(".parked"))

        async def publish() -> None:
            connection = await aio_pika.connect(_amqp(stack), timeout=10)
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                for name in work:
                    message = aio_pika.Message(b"\x00 not an event", message_id=uuid.uuid4().hex)
                    await channel.default_exchange.publish(message, routing_key=name)

        asyncio.run(publish())
        return {
            "probe": f"{len(work)} queues poisoned",
            "expected_parked": {f"{q}.parked": 1 for q in work},
        }

    return Scenario("a poison message in each consumer's queue", inject)


def delivered_twice(seconds: float = 10.0) -> Scenario:
    """Every event the services have published, published again with the same id (a relay that
    crashed between publishing and marking sent, a broker redelivery), for `seconds` of load."""

    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        import asyncio

        import aio_pika
        from pymongo import MongoClient

        exchange_name = stack.environment("gateway")["EVENTS_EXCHANGE"]
        done: set[str] = set()

        async def again() -> None:
            connection = await aio_pika.connect(_amqp(stack), timeout=10)
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.get_exchange(exchange_name, ensure=False)
                with MongoClient(stack.mongo_uri) as client:
                    until = time.monotonic() + seconds
                    while time.monotonic() < until:
                        for db in client.list_database_names():
                            if not db.startswith("mi_"):
                                continue
                            for row in client[db]["outbox"].find({"sent": True}):
                                if row["_id"] in done:
                                    continue
                                done.add(row["_id"])
                                envelope = row["envelope"]
                                await exchange.publish(
                                    aio_pika.Message(
                                        json.dumps(envelope, separators=(",", ":")).encode(),
                                        message_id=envelope["event_id"],
                                        content_type="application/json",
                                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                    ),
                                    routing_key=envelope["event_type"],
                                )
                        await asyncio.sleep(0.5)  # the next pass picks up newer events

        asyncio.run(again())
        return {"probe": f"{len(done)} events published twice"}

    return Scenario("every event delivered twice", inject)


def _shell(command: str) -> None:
    subprocess.run(command, shell=True, check=True, timeout=120)


def broker_restart() -> Scenario:
    command = os.environ.get(
        "CHAOS_RABBITMQ_RESTART", "rabbitmqctl stop_app && rabbitmqctl start_app"
    )

    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        _shell(command)
        return {}

    return Scenario("RabbitMQ restarted", inject, opt_in="CHAOS_BROKER")


def redis_stopped(seconds: float = 30.0) -> Scenario:
    stop = os.environ.get("CHAOS_REDIS_STOP", "redis-cli shutdown nosave")
    start = os.environ.get(
        "CHAOS_REDIS_START", 'redis-server --daemonize yes --save "" --appendonly no'
    )

    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        subprocess.run(stop, shell=True, timeout=30)
        try:
            seen = probe("redis")
            time.sleep(seconds)  # the outage itself
        finally:
            _shell(start)
        return seen

    return Scenario(f"Redis stopped {seconds:g}s", inject, opt_in="CHAOS_BROKER")


def scenarios() -> list[Scenario]:
    kills = [
        kill_and_restart(name)
        for name in ("gateway", "auth", "interviews", "ai-runner", "billing", "notifications")
    ]
    return [
        *kills,
        kill_and_restart("interviews-2"),
        kill_and_restart("ai-runner-2"),
        kill_and_restart(MONGO),
        mongo_hung(),
        poison(),
        delivered_twice(),
        broker_restart(),
        redis_stopped(),
    ]


def in_turn(*parts: Scenario) -> Scenario:
    """Several faults one after another under one load (each recovered before the next):
    the reduced run in `make test` pays for one load and one settling instead of several."""

    def inject(stack: Stack, probe: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {"probe": [], "ok": True}
        for part in parts:
            got = part.inject(stack, probe)
            if got.get("probe"):
                seen["probe"].append(got["probe"])
            seen["ok"] = seen["ok"] and got.get("ok", True)
        seen["probe"] = ", ".join(seen["probe"])
        return seen

    return Scenario(", then ".join(p.name for p in parts), inject)


def reduced() -> Scenario:
    """What `make test` runs: the two services that carry sessions, each killed while its
    second replica runs."""
    return in_turn(kill_and_restart("interviews", 2), kill_and_restart("ai-runner", 2))


# ------------------------------------------------------------------ running


def make_stack(data_dir: Path, rabbitmq_url: str | None, redis_url: str | None) -> Stack:
    """The stack the suite runs on (not started: start it inside a try whose finally calls
    `stop_stack`, so its queues go even when it fails to start)."""
    if os.environ.get("MONGO_URI"):
        raise SystemExit("the chaos suite starts its own Mongo-wire server: unset MONGO_URI")
    env = dict(LOAD_ENV)
    if rabbitmq_url:
        env["RABBITMQ_URL"] = rabbitmq_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    # ports="auto" gives the stack its own exchange, queue prefix and Redis keys; its
    # Mongo-wire server is its own process (the Mongo scenario restarts it)
    return Stack(data_dir, ports="auto", env=env, mongo_uri=None, replicas=REPLICAS)


def stop_stack(stack: Stack) -> None:
    stack.stop()
    prefix = stack.namespace.get("QUEUE_PREFIX")
    if prefix:
        delete_queues_with_prefix(prefix, stack.environment("gateway")["RABBITMQ_URL"])


def _prober(stack: Stack) -> Callable[[str], dict[str, Any]]:
    email = f"probe-{uuid.uuid4().hex[:10]}@example.com"
    body = {"name": "Probe", "email": email, "password": PASSWORD}
    with httpx.Client(base_url=stack.gateway_url, timeout=20) as client:
        assert client.post("/auth/register", json=body).status_code == 201
        token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
    auth = {"authorization": f"Bearer {token}"}

    def probe(part: str) -> dict[str, Any]:
        path = PROBES.get(part)
        if path is None:
            return {}
        started = time.monotonic()
        try:
            r = httpx.get(f"{stack.gateway_url}{path}", headers=auth, timeout=20)
        except httpx.HTTPError as exc:
            return {"probe": f"{path}: {type(exc).__name__}", "ok": False}
        elapsed = time.monotonic() - started
        problem = r.headers.get("content-type", "").startswith("application/problem+json")
        # 503 while the part is down; 200 is allowed when the answer was cached or the
        # part had already come back
        ok = (r.status_code == 503 and problem) or r.status_code == 200
        return {
            "probe": f"{path} {r.status_code} in {elapsed:.2f}s",
            "ok": ok and elapsed < 16.0,
            "status": r.status_code,
        }

    return probe


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:g}s")
        time.sleep(0.2)


def run_scenario(stack: Stack, scenario: Scenario, users: int = 6) -> dict[str, Any]:
    load = Load(stack.gateway_url, users=users)
    probe = _prober(stack)
    seen: dict[str, Any] = {}
    broken: list[str] = []
    with load.running():
        try:
            _wait(lambda: len(load.timings) >= users, 90, "sessions in flight before the fault")
            seen = scenario.inject(stack, probe)
            before = len(load.timings)
            # the platform serves again: new sessions reach a final status after the fault
            _wait(
                lambda: (
                    sum(
                        1
                        for sid, t in list(load.timings.items())[before:]
                        if t.final_at is not None and sid
                    )
                    >= 2
                ),
                120,
                "new sessions finished after recovery",
            )
        except AssertionError as exc:
            broken.append(str(exc))
    outcome = check_invariants(
        load,
        stack.mongo_uri,
        stack.mail_dir,
        service_urls=_consumer_urls(stack),
        rabbitmq_url=_amqp(stack),
        expected_parked=seen.get("expected_parked"),
    )
    if seen and not seen.get("ok", True):
        broken.append(f"while down: {seen['probe']}")
    broken.extend(outcome.broken)
    if load.tally.not_problem_json:
        broken.append(f"5xx without problem+json: {load.tally.not_problem_json[:3]}")
    if load.tally.slow or load.tally.statuses.get("timeout"):
        broken.append(f"gateway slow to answer: {load.tally.slow[:3]}")
    return {
        "scenario": scenario.name + (f" ({seen['probe']})" if seen.get("probe") else ""),
        "requests": load.tally.requests,
        "errors": load.tally.errors(),
        "completed": outcome.completed,
        "failed": outcome.failed,
        "stuck": len(outcome.stuck),
        "held": not broken and not outcome.stuck,
        "broken": broken + [f"stuck: {s}" for s in outcome.stuck[:3]],
    }


def run(names: list[str] | None = None, users: int = 6) -> list[dict[str, Any]]:
    chosen = [s for s in scenarios() if names is None or s.name in names]
    skipped = [s for s in chosen if s.opt_in and os.environ.get(s.opt_in) != "1"]
    for s in skipped:
        print(f"chaos: skipping '{s.name}' (shared with others; set {s.opt_in}=1 to run it)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        stack = make_stack(Path(tmp), os.environ.get("RABBITMQ_URL"), os.environ.get("REDIS_URL"))
        try:
            stack.start(timeout=120)
            for scenario in chosen:
                if scenario in skipped:
                    continue
                started = time.monotonic()
                rows.append(run_scenario(stack, scenario, users))
                print(f"chaos: {scenario.name} took {time.monotonic() - started:.0f}s", flush=True)
        finally:
            stop_stack(stack)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated scenario names (default: all)")
    parser.add_argument("--users", type=int, default=6)
    args = parser.parse_args()
    # a SIGTERM (timeout, CI cancel) must still stop the stack and delete its queues
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = None
    if args.only:
        # a scenario is chosen when one of the words is in its name ("interviews", "poison")
        words = [w.strip() for w in args.only.split(",") if w.strip()]
        names = [sc.name for sc in scenarios() if any(w in sc.name for w in words)]
    rows = run(names, args.users)
    print(format_table(rows))
    return 0 if all(r["held"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
