"""Load and fault injection against a whole platform (scripts/devstack.py `Stack`), for
`make chaos`, the reduced chaos test in `make test`, and `bench/soak.py`.

`Load` runs simulated users through the gateway only, each in its own thread: register,
sign in, start interviews (behavioural mostly, every `coding_every`-th a coding one),
answer, submit, wait for the report; every `upgrade_every`-th user pays on the local
checkout when the free quota runs out, the others make room for a newcomer. Every request
is tallied by status (or `timeout` / `connection`), with its latency and whether a 5xx
answer was problem+json.

`check_invariants` then reads what a user and an operator would: every session of every
simulated user reaches `completed` or `failed` by a deadline, `/user/me` quota `used` equals
the sessions not failed, and, straight from the stack's Mongo-wire server, one
`SessionScored` per session, one ledger row per Stripe event, no mail sent twice, every
outbox drained.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

PASSWORD = "Steady-load-4096"
FINAL = frozenset({"completed", "failed"})
# Longer than the gateway's own upstream timeout (15 s): a client timeout means the gateway
# itself did not answer, which is the "hangs" the suite must never see.
CLIENT_TIMEOUT = 20.0
STORY = (
    "Last spring our checkout service missed its latency target two weeks before a launch. "
    "As the on-call lead, my task was to find the cause and get p99 under 300 ms. I profiled the "
    "hot path, found an N+1 query in the pricing module, and I rewrote it as one batched query. "
    "The p99 dropped from 900 ms to 210 ms and we launched on time with 12% more conversions. "
    "I learned to add performance budgets to code review, and next time I would test earlier."
)

# Generous limits: the load plays many users from a few addresses, and the suite tests faults,
# not throttling.
LOAD_ENV = {
    "RATE_LIMIT_IP": "100000/60",
    "RATE_LIMIT_USER": "100000/60",
    "RATE_LIMIT_LOGIN_IP": "100000/60",
    "RATE_LIMIT_LOGIN_ACCOUNT": "100000/60",
    "RATE_LIMIT_REGISTER_IP": "100000/60",
    "OUTBOX_POLL_SECONDS": "0.2",
    "ENVIRONMENT": "test",
}


QUOTA = "429 quota"


@dataclass
class Tally:
    """What the clients saw: answers by status, latencies, and answers that broke the rules."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    not_problem_json: list[str] = field(default_factory=list)  # 5xx answers that were not
    slow: list[str] = field(default_factory=list)  # answered after more than `slow_seconds`
    lock: threading.Lock = field(default_factory=threading.Lock)
    slow_seconds: float = 16.0  # the gateway's upstream timeout (15 s) plus a second

    def record(self, what: str, status: str, elapsed: float, problem: bool = True) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(elapsed)
            if not problem:
                self.not_problem_json.append(f"{what} -> {status}")
            if elapsed > self.slow_seconds:
                self.slow.append(f"{what} -> {status} after {elapsed:.1f}s")

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def errors(self) -> dict[str, int]:
        """Answers that are not success, by status (`timeout`, `connection`: no answer)."""
        return {
            s: n
            for s, n in sorted(self.statuses.items())
            if s != QUOTA and not (s.isdigit() and int(s) < 400)
        }


@dataclass
class SessionTiming:
    """One interview as its user saw it (for the soak's percentiles)."""

    kind: str
    requested_at: float
    ready_at: float | None = None
    submitted_at: float | None = None
    final_at: float | None = None
    status: str = "queued"


class Gateway:
    """An httpx client that tallies every answer and turns transport failures into statuses."""

    def __init__(self, base_url: str, tally: Tally, ip: str | None = None) -> None:
        transport = httpx.HTTPTransport(local_address=ip) if ip else None
        self.client = httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT, transport=transport)
        self.tally = tally

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        what = f"{method} {path}"
        started = time.monotonic()
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            self.tally.record(what, "timeout", time.monotonic() - started)
            return None
        except httpx.TransportError:
            # nothing listens (the gateway itself is down): refused at once, not a hang
            self.tally.record(what, "connection", time.monotonic() - started)
            return None
        problem = response.status_code < 500 or response.headers.get("content-type", "").startswith(
            "application/problem+json"
        )
        status = str(response.status_code)
        if status == "429" and "quota_exceeded" in response.text:
            status = QUOTA  # the product working: a free user's week is used up
        self.tally.record(what, status, time.monotonic() - started, problem)
        return response


@dataclass
class SimulatedUser:
    email: str
    upgrades: bool
    auth: dict[str, str] = field(default_factory=dict)
    upgraded: bool = False
    sessions: list[str] = field(default_factory=list)


def _retry(
    stop: threading.Event, attempt: Callable[[], Any], deadline: float, pause: float = 0.5
) -> Any:
    """Call `attempt` until it returns something other than None; the platform may be
    mid-fault, and a user tries again. Gives up (None) at the deadline."""
    while time.monotonic() < deadline:
        result = attempt()
        if result is not None:
            return result
        # a pause between attempts is a user's patience, not synchronisation
        if stop.wait(pause) and time.monotonic() > deadline:
            break
    return None


class Load:
    """`users` simulated users in threads until `stop()`; each finishes what it started."""

    def __init__(
        self,
        gateway_url: str,
        users: int = 6,
        coding_every: int = 6,
        upgrade_every: int = 3,
        think_seconds: float = 0.5,
        rate_per_minute: float | None = None,
    ) -> None:
        self.gateway_url = gateway_url
        self.users = users
        self.coding_every = coding_every
        self.upgrade_every = upgrade_every
        self.think_seconds = think_seconds
        # soak: sessions started at a fixed rate overall instead of as fast as users go
        self.interval = 60.0 / rate_per_minute if rate_per_minute else None
        self.tally = Tally()
        self.people: list[SimulatedUser] = []
        self.timings: dict[str, SessionTiming] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._next_start = time.monotonic()
        self.crashes: list[str] = []

    # ------------------------------------------------------------------ running

    def start(self) -> Load:
        for n in range(self.users):
            thread = threading.Thread(target=self._worker, args=(n,), daemon=True, name=f"u{n}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 240.0) -> None:
        """No new interviews; wait for each user to finish (submit) the one in hand."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self.crashes.append(f"users still busy after {timeout:g}s: {alive}")

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def _worker(self, n: int) -> None:
        # distinct source addresses, as distinct people would have
        gateway = Gateway(self.gateway_url, self.tally, ip=f"127.3.{n // 250}.{n % 250 + 1}")
        try:
            while not self._stopping.is_set():
                index = next(self._counter)
                person = SimulatedUser(
                    email=f"chaos-{uuid.uuid4().hex[:12]}@example.com",
                    upgrades=self.upgrade_every > 0 and index % self.upgrade_every == 0,
                )
                with self._lock:
                    self.people.append(person)
                self._live(gateway, person)
        except Exception as exc:  # a driver bug must show in the report, not vanish
            self.crashes.append(f"user thread {n}: {exc!r}")
        finally:
            gateway.close()

    def _live(self, gateway: Gateway, person: SimulatedUser) -> None:
        if not self._sign_up(gateway, person):
            return
        while not self._stopping.is_set():
            started = self._start_interview(gateway, person)
            if started == "quota":
                if person.upgrades and not person.upgraded and self._upgrade(gateway, person):
                    continue
                return  # this user is done for the week; a newcomer takes the thread
            if started is None:
                # a user whose start failed (platform mid-fault) tries again after a moment,
                # not in a tight loop (11,595 refused connections in 3 s of a dead gateway)
                self._stopping.wait(self.think_seconds)
                continue
            self._stopping.wait(self.think_seconds)

    def _sign_up(self, gateway: Gateway, person: SimulatedUser) -> bool:
        deadline = time.monotonic() + 60
        body = {"name": "Candidate", "email": person.email, "password": PASSWORD}
        login_body = {"email": person.email, "password": PASSWORD}

        def register() -> bool | None:
            r = gateway.call("POST", "/auth/register", json=body)
            # 409: an earlier attempt got through and its answer was lost in a fault
            return True if r is not None and r.status_code in (201, 409) else None

        def login() -> str | None:
            r = gateway.call("POST", "/auth/login", json=login_body)
            return r.json()["access_token"] if r is not None and r.status_code == 200 else None

        if _retry(self._stopping, register, deadline) is None:
            return False
        token = _retry(self._stopping, login, deadline)
        if token is None:
            return False
        person.auth = {"authorization": f"Bearer {token}"}
        return True

    def _pace(self) -> None:
        if self.interval is None:
            return
        with self._lock:
            at = max(self._next_start, time.monotonic())
            self._next_start = at + self.interval
        self._stopping.wait(max(0.0, at - time.monotonic()))

    def _start_interview(self, gateway: Gateway, person: SimulatedUser) -> str | None:
        self._pace()
        if self._stopping.is_set():
            return None
        kind = "coding" if next(self._counter) % self.coding_every == 0 else "behavioral"
        requested = time.monotonic()
        r = gateway.call(
            "POST", "/interviews", json={"type": kind, "question_count": 1}, headers=person.auth
        )
        if r is None or r.status_code >= 500:
            return None  # a fault: try again (a lost 202 shows up in the list at the end)
        if r.status_code == 429 and r.json().get("code") == "quota_exceeded":
            if self.interval is not None:
                # the rate counts interviews started: a denied start gives its slot back
                # (a third of the slots went to 429s before, 20/min when 30 were asked)
                with self._lock:
                    self._next_start -= self.interval
            return "quota"
        if r.status_code != 202:
            self.crashes.append(f"POST /interviews answered {r.status_code}: {r.text[:200]}")
            return None
        session = r.json()
        sid = session["id"]
        timing = SessionTiming(kind, requested)
        with self._lock:
            person.sessions.append(sid)
            self.timings[sid] = timing
        self._answer(gateway, person, sid, session["questions"], timing)
        return sid

    def _status(self, gateway: Gateway, person: SimulatedUser, sid: str) -> dict[str, Any] | None:
        r = gateway.call("GET", f"/interviews/{sid}", headers=person.auth)
        return r.json() if r is not None and r.status_code == 200 else None

    def _answer(
        self,
        gateway: Gateway,
        person: SimulatedUser,
        sid: str,
        questions: list[dict[str, Any]],
        timing: SessionTiming,
    ) -> None:
        """Wait for `ready`, submit, wait for the report: what the candidate does."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            view = self._status(gateway, person, sid)
            status = view["status"] if view else None
            if status == "ready" and timing.submitted_at is None:
                timing.ready_at = timing.ready_at or time.monotonic()
                r = gateway.call(
                    "POST",
                    f"/interviews/{sid}/submit",
                    json={"answers": answers_for(questions)},
                    headers=person.auth,
                )
                if r is not None and r.status_code in (202, 409):
                    timing.submitted_at = time.monotonic()
            elif status in ("scoring",) and timing.submitted_at is None:
                timing.submitted_at = time.monotonic()  # an earlier submit's answer was lost
            elif status in FINAL:
                timing.final_at = time.monotonic()
                timing.status = status
                return
            # polling the way the web app's fallback does when SSE is not used
            time.sleep(0.3)

    def _upgrade(self, gateway: Gateway, person: SimulatedUser) -> bool:
        deadline = time.monotonic() + 60

        def checkout() -> str | None:
            r = gateway.call(
                "POST", "/billing/checkout", json={"plan": "premium"}, headers=person.auth
            )
            if r is not None and r.status_code == 201:
                return str(r.json()["checkout_url"])
            if r is not None and r.status_code == 409:
                return ""  # already subscribed: an earlier attempt went through
            return None

        url = _retry(self._stopping, checkout, deadline)
        if url is None:
            return False
        if url:
            paid = _retry(
                self._stopping,
                lambda: (
                    True
                    if (
                        r := gateway.call(
                            "POST",
                            url + "/pay",
                            headers={"content-type": "application/x-www-form-urlencoded"},
                        )
                    )
                    is not None
                    and r.status_code in (303, 409)
                    else None
                ),
                deadline,
            )
            if paid is None:
                return False

        def premium() -> bool | None:
            r = gateway.call("GET", "/user/me", headers=person.auth)
            return (
                True
                if r is not None and r.status_code == 200 and r.json()["plan"] == "premium"
                else None
            )

        person.upgraded = _retry(self._stopping, premium, deadline, pause=0.3) is not None
        return person.upgraded

    # --------------------------------------------------------------- figures

    def percentiles(self, what: str) -> dict[str, float]:
        """p50 / p99 seconds of `ready` (POST -> ready) or `completed` (submit -> final)."""
        if what == "ready":
            values = [t.ready_at - t.requested_at for t in self.timings.values() if t.ready_at]
        else:
            values = [
                t.final_at - t.submitted_at
                for t in self.timings.values()
                if t.final_at and t.submitted_at and t.status == "completed"
            ]
        if not values:
            return {"n": 0}
        values.sort()
        return {
            "n": len(values),
            "p50": statistics.median(values),
            "p99": values[min(len(values) - 1, round(0.99 * (len(values) - 1)))],
        }


def answers_for(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answers = []
    for q in questions:
        if q["kind"] == "coding":
            code = f"def {q['function_name']}(*args):\n    return None\n"
            answers.append(
                {"question_id": q["question_id"], "language": "python", "response": code}
            )
        else:
            answers.append({"question_id": q["question_id"], "response": STORY})
    return answers


# ------------------------------------------------------------------ invariants


@dataclass
class Outcome:
    completed: int = 0
    failed: int = 0
    stuck: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.stuck and not self.broken


def settle(load: Load, deadline_seconds: float = 180.0) -> Outcome:
    """Wait until every session of every simulated user is final; finish any the user left
    `ready` (a 202 lost in a fault: the user finds it in their list and answers it)."""
    outcome = Outcome()
    tally = Tally()  # the check's own requests are not the load's
    gateway = Gateway(load.gateway_url, tally)
    deadline = time.monotonic() + deadline_seconds
    try:
        pending: dict[str, SimulatedUser] = {}
        for person in load.people:
            if not person.auth:
                continue
            listing = _retry(
                threading.Event(),
                lambda p=person: _json(
                    gateway.call("GET", "/interviews?limit=100", headers=p.auth)
                ),
                deadline,
            )
            if listing is None:
                outcome.broken.append(f"cannot list the sessions of {person.email}")
                continue
            for item in listing["items"]:
                pending[item["id"]] = person
                if item["id"] not in person.sessions:
                    person.sessions.append(item["id"])  # started, but its 202 was lost
        while pending and time.monotonic() < deadline:
            for sid, person in list(pending.items()):
                view = _json(gateway.call("GET", f"/interviews/{sid}", headers=person.auth))
                if view is None:
                    continue
                if view["status"] in FINAL:
                    del pending[sid]
                    if view["status"] == "completed":
                        outcome.completed += 1
                    else:
                        outcome.failed += 1
                elif view["status"] == "ready":
                    gateway.call(
                        "POST",
                        f"/interviews/{sid}/submit",
                        json={"answers": answers_for(view["questions"])},
                        headers=person.auth,
                    )
            if pending:
                time.sleep(0.5)  # polling for the final status, bounded by the deadline
        for sid, person in pending.items():
            view = _json(gateway.call("GET", f"/interviews/{sid}", headers=person.auth))
            outcome.stuck.append(f"{sid} ({person.email}) {view['status'] if view else '?'}")
    finally:
        gateway.close()
    return outcome


def _json(response: httpx.Response | None) -> Any:
    return response.json() if response is not None and response.status_code == 200 else None


def queues_of(service_urls: list[str]) -> set[str]:
    """The work and parked queues the services consume (from their own queue gauges)."""
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    for url in service_urls:
        with contextlib.suppress(httpx.HTTPError):
            text = httpx.get(f"{url}/metrics", timeout=10).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    queue = sample.labels.get("queue", "")
                    # mi.unrouted is reported too, and shared with every stack: not ours
                    if sample.name == "consumer_queue_messages_ready" and queue != "mi.unrouted":
                        names.add(queue)
    return names


def parked_messages(
    service_urls: list[str], rabbitmq_url: str, purge: bool = False
) -> dict[str, int]:
    """Messages waiting in the stack's parked queues, counted by asking the broker now
    (then purged when `purge`: the next scenario starts from empty ones)."""
    import asyncio

    import aio_pika

    names = {q for q in queues_of(service_urls) if q.endswith(".parked")}

    if not names:  # the check would pass vacuously: say so instead
        return {"(no parked queue found in the services' /metrics)": 1}

    async def count() -> dict[str, int]:
        found: dict[str, int] = {}
        connection = await aio_pika.connect(rabbitmq_url, timeout=10)
        async with connection:
            for name in sorted(names):
                channel = await connection.channel()
                queue = await channel.declare_queue(name, passive=True)
                if queue.declaration_result.message_count:
                    found[name] = queue.declaration_result.message_count
                    if purge:
                        await queue.purge()
                await channel.close()
        return found

    return asyncio.run(count())


def check_invariants(
    load: Load,
    mongo_uri: str,
    mail_dir: Path,
    db_prefix: str = "",
    settle_seconds: float = 180.0,
    drain_seconds: float = 60.0,
    service_urls: list[str] | None = None,
    rabbitmq_url: str | None = None,
    expected_parked: dict[str, int] | None = None,
) -> Outcome:
    outcome = settle(load, settle_seconds)
    broken = outcome.broken
    gateway = Gateway(load.gateway_url, Tally())
    try:
        # quota: what /user/me says against the user's own list (a session that failed gave
        # its credit back)
        for person in load.people:
            if not person.auth:
                continue
            me = _json(gateway.call("GET", "/user/me", headers=person.auth))
            listing = _json(gateway.call("GET", "/interviews?limit=100", headers=person.auth))
            if me is None or listing is None:
                broken.append(f"quota of {person.email}: cannot read /user/me or the list")
                continue
            counted = sum(1 for item in listing["items"] if item["status"] != "failed")
            if me["quota"]["used"] != counted:
                broken.append(
                    f"quota of {person.email}: used {me['quota']['used']}, "
                    f"sessions not failed {counted}"
                )
    finally:
        gateway.close()

    with MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000) as client:
        db = client[f"{db_prefix}mi_interviews"]
        twice = list(
            db["events"].aggregate(
                [
                    {"$match": {"event_type": "SessionScored"}},
                    {"$group": {"_id": "$aggregate_id", "n": {"$sum": 1}}},
                    {"$match": {"n": {"$gt": 1}}},
                ]
            )
        )
        broken.extend(f"SessionScored applied {row['n']} times to {row['_id']}" for row in twice)

        payments = client[f"{db_prefix}mi_billing"]["payments"]
        per_event = Counter(row.get("stripe_event_id") for row in payments.find({}))
        broken.extend(
            f"ledger: {n} rows for Stripe event {e}" for e, n in per_event.items() if n > 1
        )
        paid_users = Counter(row.get("user_id") for row in payments.find({"status": "paid"}))
        broken.extend(f"ledger: {n} payments by {u}" for u, n in paid_users.items() if n > 1)

        # the outbox drains: every service's committed events reach the broker
        until = time.monotonic() + drain_seconds
        while True:
            backlog = {
                name: n
                for name in client.list_database_names()
                if name.startswith(f"{db_prefix}mi_")
                and (n := client[name]["outbox"].count_documents({"sent": False}))
            }
            if not backlog or time.monotonic() > until:
                break
            time.sleep(0.5)  # the relay polls; the deadline bounds this
        broken.extend(f"outbox not drained: {name} {n} unsent" for name, n in backlog.items())

    ids = Counter()
    for path in Path(mail_dir).glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        ids[(str(message["Message-ID"]))] += 1
    broken.extend(f"mail sent {n} times: {mid}" for mid, n in ids.items() if n > 1)
    if service_urls and rabbitmq_url:
        # a fault must not make a consumer give up on an event: nothing may wait parked
        # but the poison a scenario put in on purpose
        expected = expected_parked or {}
        parked = parked_messages(service_urls, rabbitmq_url, purge=bool(expected))
        broken.extend(
            f"{n} message(s) parked in {q}, expected {expected.get(q, 0)}"
            for q, n in parked.items()
            if n != expected.get(q, 0)
        )
        broken.extend(
            f"nothing parked in {q}, expected {n}" for q, n in expected.items() if q not in parked
        )
    broken.extend(load.crashes)
    return outcome


def format_table(rows: list[dict[str, Any]]) -> str:
    """The report: one line per scenario."""
    head = (
        "scenario",
        "requests",
        "errors by status",
        "completed",
        "failed",
        "stuck",
        "invariants",
    )
    lines = [
        (
            r["scenario"],
            str(r["requests"]),
            ", ".join(f"{k}:{v}" for k, v in r["errors"].items()) or "-",
            str(r["completed"]),
            str(r["failed"]),
            str(r["stuck"]),
            "held" if r["held"] else "BROKEN: " + "; ".join(r["broken"])[:300],
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    out = [" | ".join(c.ljust(w) for c, w in zip(head, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    out.extend(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines)
    return "\n".join(out)
