"""The fault-injection suite: one fault at a time under a steady load, invariants after each.

    python tests/chaos/suite.py            # `make chaos`: every scenario, prints the table
    python tests/chaos/suite.py --only "ai-runner,poison"   # names containing these

The stack runs on servers of its own (scripts/privateservers.py): a RabbitMQ node and a
redis-server on free ports with their files in a temporary directory, and its own Mongo-wire
server, so restarting any of them touches nobody else's runs (the machine's shared RabbitMQ
and Redis are never stopped). All of them stop, and their directories go, at the end.

A scenario: start `Load`, wait until the users have sessions in flight, inject the fault
(and, while it lasts, ask the gateway for something the dead part serves: it must answer a
problem+json 503 at once, never hang; a dead dependency must be named in the services'
/readyz, and named as back after), recover, wait until new sessions go through again, stop
the load (each user finishes what it started), then `check_invariants`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for extra in (REPO / "scripts", REPO / "tests" / "e2e", HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import httpx  # noqa: E402
from devstack import MONGO, MongoWatch, Stack, StackError  # noqa: E402
from driver import (  # noqa: E402
    LOAD_ENV,
    PASSWORD,
    Load,
    check_invariants,
    format_table,
    queues_of,
)
from privateservers import PrivateRabbitMQ, PrivateRedis  # noqa: E402

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
    # the sessions' store (Mongo-wire) answers without the broker: 200, the events wait in
    # the outboxes; without Redis the gateway cannot check revocations: 503 (fail closed)
    "rabbitmq": "/interviews",
    "redis": "/interviews",
}
# A dependency's outage is answered at once (a refused connection), not after a timeout.
FAST_SECONDS = 5.0


@dataclass(frozen=True)
class Platform:
    """The stack under test and the RabbitMQ node and Redis of its own it runs on."""

    stack: Stack
    broker: PrivateRabbitMQ
    redis: PrivateRedis


Probe = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[Platform, Probe], dict[str, Any]]


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    """What several probes saw, as one: texts joined, ok only when each was."""
    texts = [p["probe"] for p in parts if p.get("probe")]
    return {"probe": "; ".join(texts), "ok": all(p.get("ok", True) for p in parts)}


def _readyz(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every service's /readyz body now (asked concurrently: each answers within about
    READINESS_CHECK_SECONDS however many of its checks hang)."""

    def one(name: str) -> dict[str, Any]:
        try:
            body = httpx.get(f"{stack.service_url(name)}/readyz", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return {}  # the service itself is not answering: it names nothing
        return body if isinstance(body, dict) else {}

    with ThreadPoolExecutor(len(stack.services)) as pool:
        return dict(zip(stack.services, pool.map(one, stack.services), strict=True))


def _reported(detail: dict[str, Any], dependency: str) -> bool | None:
    """What a /readyz body says of a dependency: up, down, or nothing (not used there)."""
    for part in ("checks", "degraded_without"):
        states = detail.get(part) or {}
        if dependency in states:
            return bool(states[dependency])
    return None


def readyz_names(stack: Stack, dependency: str, down: bool, timeout: float) -> dict[str, Any]:
    """Wait until every service whose /readyz reports `dependency` says it is down (or, with
    `down=False`, up again, and for the broker its consumers attached again: robust
    connections can come back with none). Returns a probe result: what was seen, and ok."""
    started = time.monotonic()
    want = "down" if down else "back"
    while True:
        bodies = _readyz(stack)
        states = {n: s for n, b in bodies.items() if (s := _reported(b, dependency)) is not None}
        if not down and dependency == "rabbitmq":
            # consumers count only once the broker is back
            states = {
                n: s and bool((bodies[n].get("checks") or {}).get("consumers", True))
                for n, s in states.items()
            }
        # a service that does not answer /readyz at all names nothing: it counts against
        wrong = sorted(n for n, up in states.items() if up == down)
        wrong += sorted(f"{n} (no answer)" for n, b in bodies.items() if not b)
        elapsed = time.monotonic() - started
        if states and not wrong:
            where = ", ".join(states) if len(states) <= 2 else f"{len(states)} services"
            return {
                "probe": f"/readyz: {dependency} {want} in {where} after {elapsed:.1f}s",
                "ok": True,
            }
        if elapsed > timeout:
            text = (
                f"/readyz of {', '.join(wrong)} did not say {dependency} {want} within {timeout:g}s"
                if states
                else f"no service's /readyz names {dependency}"
            )
            return {"probe": text, "ok": False}
        time.sleep(0.5)  # /readyz is asked again; the timeout bounds this


def kill_and_restart(process: str, down_seconds: float | None = None) -> Scenario:
    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        stack = platform.stack
        killed = time.monotonic()
        stack.kill(process, signal.SIGKILL)
        seen = [probe(process)]
        if process == MONGO:
            seen.append(readyz_names(stack, "mongo", down=True, timeout=15))
        # the fault's duration (the load keeps running into it), not a synchronisation
        down = DOWN_SECONDS if down_seconds is None else down_seconds
        time.sleep(max(0.0, down - (time.monotonic() - killed)))
        stack.restart(process, timeout=90)
        if process == MONGO:
            seen.append(readyz_names(stack, "mongo", down=False, timeout=60))
        return _merge(*seen)

    return Scenario(f"kill -9 {process}", inject)


def mongo_hung() -> Scenario:
    """The secantusdb hang as it looks from outside (frozen: SIGSTOP), left to `make run`'s
    watch, which saves its stacks and restarts it on the same data. Two requests are timed
    while it hangs: the first waits out the store's timeouts; the second is refused at once
    when the store breaker has opened by then (not always, see below)."""

    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        stack = platform.stack
        watch = MongoWatch(stack, lambda line: print(f"chaos [watch] {line}", flush=True))
        frozen = stack.popen(MONGO)
        assert frozen is not None
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            seen = [probe(MONGO)]  # waits out the store's socket timeout
            # the next one too, unless the timeouts so far opened the interviews service's store
            # breaker (they often come as operations cancelled by a cleared pool, which it does
            # not count): reported, held to the gateway's bound only
            seen.append(probe(MONGO))
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
        return _merge(*seen)

    return Scenario("mongo hung (SIGSTOP), the watch restarts it", inject)


def _amqp(stack: Stack) -> str:
    return stack.environment("gateway")["RABBITMQ_URL"]


def _consumer_urls(stack: Stack) -> list[str]:
    return [stack.service_url(n) for n in stack.services if n != "gateway"]


def poison() -> Scenario:
    """A message no consumer can read, put straight into each of the stack's work queues: each
    must be parked once (with its reason) while the load goes on untouched."""

    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        import asyncio

        import aio_pika

        stack = platform.stack
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

    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        import asyncio

        import aio_pika
        from pymongo import MongoClient

        stack = platform.stack
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


def _unsent(stack: Stack) -> int:
    """Events committed to the services' outboxes and not yet on the broker."""
    from pymongo import MongoClient

    with MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=10_000) as client:
        return sum(
            client[db]["outbox"].count_documents({"sent": False})
            for db in client.list_database_names()
            if db.startswith("mi_")
        )


def broker_restart(down_seconds: float | None = None) -> Scenario:
    """The stack's RabbitMQ node stopped (as an operator stops it) and started again on the
    same data: the services reconnect and their consumers come back by themselves."""

    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        stack = platform.stack
        stopped = time.monotonic()
        platform.broker.stop()
        try:
            seen = [
                probe("rabbitmq", within=FAST_SECONDS),
                readyz_names(stack, "rabbitmq", down=True, timeout=15),
            ]
            down = DOWN_SECONDS if down_seconds is None else down_seconds
            time.sleep(max(0.0, down - (time.monotonic() - stopped)))  # the outage itself
            # what the outboxes kept meanwhile (check_invariants sees them drain after)
            seen.append({"probe": f"outboxes held {_unsent(stack)} events"})
        finally:
            platform.broker.start(timeout=90)
        seen.append(readyz_names(stack, "rabbitmq", down=False, timeout=60))
        return _merge(*seen)

    return Scenario("RabbitMQ restarted", inject)


def redis_stopped(seconds: float = 30.0) -> Scenario:
    """The stack's Redis stopped for `seconds` and started again empty (it keeps nothing)."""

    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        stack = platform.stack
        stopped = time.monotonic()
        platform.redis.stop()
        try:
            seen = [
                probe("redis", within=FAST_SECONDS),
                readyz_names(stack, "redis", down=True, timeout=15),
            ]
            time.sleep(max(0.0, seconds - (time.monotonic() - stopped)))  # the outage itself
            seen.append(probe("redis", within=FAST_SECONDS))  # still fast at its end
        finally:
            platform.redis.start(timeout=30)
        seen.append(readyz_names(stack, "redis", down=False, timeout=30))
        return _merge(*seen)

    return Scenario(f"Redis stopped {seconds:g}s", inject)


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

    def inject(platform: Platform, probe: Probe) -> dict[str, Any]:
        seen: dict[str, Any] = {"probe": [], "ok": True}
        for part in parts:
            got = part.inject(platform, probe)
            if got.get("probe"):
                seen["probe"].append(got["probe"])
            seen["ok"] = seen["ok"] and got.get("ok", True)
        seen["probe"] = ", ".join(seen["probe"])
        return seen

    return Scenario(", then ".join(p.name for p in parts), inject)


def reduced() -> Scenario:
    """What `make test` runs: the two services that carry sessions, each killed while its
    second replica runs, then the broker restarted under them (about 15 s more than the
    kills alone: the node's start and its restart)."""
    return in_turn(
        kill_and_restart("interviews", 2), kill_and_restart("ai-runner", 2), broker_restart(2)
    )


# ------------------------------------------------------------------ running


@contextlib.contextmanager
def platform(data_dir: Path) -> Iterator[Platform]:
    """The stack, started on a RabbitMQ node, a Redis and a Mongo-wire server of its own;
    afterwards every process is stopped and the servers' directories removed (`data_dir`,
    the stack's logs and data, is the caller's)."""
    with PrivateRabbitMQ() as broker, PrivateRedis() as redis:
        # free ports; the Mongo-wire server is its own process (the Mongo scenarios restart
        # it, so a MONGO_URI from outside is not used), and so are the broker and Redis:
        # nothing is shared with other stacks
        env = dict(LOAD_ENV, RABBITMQ_URL=broker.url, REDIS_URL=redis.url, MONGO_URI="")
        stack = Stack(data_dir, ports="auto", env=env, mongo_uri=None, replicas=REPLICAS)
        try:
            stack.start(timeout=120)
            yield Platform(stack, broker, redis)
        finally:
            stack.stop()
    left = broker.leftovers() + redis.leftovers()
    if left:
        raise StackError(f"the chaos suite left behind: {'; '.join(left)}")


def _prober(stack: Stack) -> Probe:
    email = f"probe-{uuid.uuid4().hex[:10]}@example.com"
    body = {"name": "Probe", "email": email, "password": PASSWORD}
    with httpx.Client(base_url=stack.gateway_url, timeout=20) as client:
        assert client.post("/auth/register", json=body).status_code == 201
        token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
    auth = {"authorization": f"Bearer {token}"}

    def probe(part: str, within: float = 16.0) -> dict[str, Any]:
        """GET what `part` serves: a problem+json 503 (or a 200) within `within` seconds."""
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
            "ok": ok and elapsed < within,
            "status": r.status_code,
        }

    return probe


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:g}s")
        time.sleep(0.2)


def run_scenario(platform: Platform, scenario: Scenario, users: int = 6) -> dict[str, Any]:
    stack = platform.stack
    load = Load(stack.gateway_url, users=users)
    probe = _prober(stack)
    seen: dict[str, Any] = {}
    broken: list[str] = []
    with load.running():
        try:
            _wait(lambda: len(load.timings) >= users, 90, "sessions in flight before the fault")
            seen = scenario.inject(platform, probe)
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
        broken.append(f"during the fault: {seen['probe']}")
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


def run(rows: list[dict[str, Any]], names: list[str] | None = None, users: int = 6) -> None:
    """Run the chosen scenarios (all by default) one after another on one platform, adding
    a row to `rows` after each."""
    chosen = [s for s in scenarios() if names is None or s.name in names]
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp, platform(Path(tmp)) as running:
        for scenario in chosen:
            started = time.monotonic()
            rows.append(run_scenario(running, scenario, users))
            print(f"chaos: {scenario.name} took {time.monotonic() - started:.0f}s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated scenario names (default: all)")
    parser.add_argument("--users", type=int, default=6)
    args = parser.parse_args()
    # a SIGTERM (timeout, CI cancel) must still stop the stack and its servers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = None
    if args.only:
        # a scenario is chosen when one of the words is in its name ("interviews", "poison")
        words = [w.strip() for w in args.only.split(",") if w.strip()]
        names = [sc.name for sc in scenarios() if any(w in sc.name for w in words)]
    rows: list[dict[str, Any]] = []
    try:
        run(rows, names, args.users)
    finally:
        # what ran is reported even when the platform did not stop cleanly
        print(format_table(rows))
    return 0 if all(r["held"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
