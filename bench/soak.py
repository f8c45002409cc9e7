"""Soak: minutes of mixed load at a fixed rate against a whole local stack, with figures.

    python bench/soak.py --minutes 5 --rate 30

A private stack (scripts/devstack.py, ports="auto": its own exchange, queue prefix, Redis keys
and Mongo-wire server) takes simulated users through the gateway (tests/chaos/driver.py:
register, sign in, start interviews - behavioural mostly, every `--coding-every`-th a coding
one - answer, submit, wait for the report; some pay on the local checkout when the free quota
runs out). New interviews start at `--rate` a minute overall, whatever the latency.

Printed: p50/p99 of POST /interviews -> `ready` and submit -> `completed` (seconds, as the
user sees them by polling GET /interviews/{id} every 0.3 s, so +-0.3 s), the error rate
(5xx, timeouts and refused connections over all requests; 4xx listed apart: a 429
quota_exceeded is the product working), and each process's resident memory at start and end.
The invariants of the chaos suite are checked at the end as well (nothing stuck, once only).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO / "scripts", REPO / "tests" / "e2e", REPO / "tests" / "chaos"):
    sys.path.insert(0, str(extra))

from devstack import Stack  # noqa: E402
from driver import LOAD_ENV, Load, check_invariants  # noqa: E402
from stackutil import delete_queues_with_prefix  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the sandboxes a service starts)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
        pids.extend(int(c) for c in children)
    return total / 1024


def memory(stack: Stack) -> dict[str, float]:
    return {
        name: rss_mib(popen.pid)
        for name in stack.ports
        if (popen := stack.popen(name)) is not None and popen.poll() is None
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=30.0, help="interviews started a minute")
    parser.add_argument("--users", type=int, default=8, help="concurrent simulated users")
    parser.add_argument("--coding-every", type=int, default=6)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        env = dict(LOAD_ENV)
        env.pop("MONGO_URI", None)
        stack = Stack(Path(tmp), ports="auto", env=env, mongo_uri=None)
        try:
            stack.start(timeout=120)
            load = Load(
                stack.gateway_url,
                users=args.users,
                coding_every=args.coding_every,
                rate_per_minute=args.rate,
            )
            # a short warm-up (JWKS caches, connection pools) before the first memory figure
            warm = Load(stack.gateway_url, users=1)
            with warm.running():
                deadline = time.monotonic() + 60
                while not any(t.final_at for t in warm.timings.values()):
                    if time.monotonic() > deadline:
                        raise SystemExit("warm-up: no interview finished within 60 s")
                    time.sleep(0.2)
            before = memory(stack)
            started = time.monotonic()
            load.start()
            try:
                # the soak's duration: the load runs in its own threads meanwhile
                time.sleep(args.minutes * 60)
            finally:
                load.stop()
            wall = time.monotonic() - started
            outcome = check_invariants(load, stack.mongo_uri, stack.mail_dir)
            after = memory(stack)
        finally:
            stack.stop()
            prefix = stack.namespace.get("QUEUE_PREFIX")
            if prefix:
                delete_queues_with_prefix(prefix, os.environ.get("RABBITMQ_URL"))

    tally = load.tally
    failures = sum(
        n
        for s, n in tally.statuses.items()
        if s in ("timeout", "connection") or (s.isdigit() and int(s) >= 500)
    )
    client_errors = {s: n for s, n in tally.errors().items() if s.startswith("4")}
    print(
        f"soak: {wall / 60:.1f} min, {len(load.timings)} interviews started "
        f"({len(load.timings) / wall * 60:.1f}/min, asked {args.rate:g}/min), "
        f"{len(load.people)} users, {tally.requests} requests"
    )
    for label, what in (
        ("POST /interviews -> ready", "ready"),
        ("submit -> completed", "completed"),
    ):
        p = load.percentiles(what)
        if p["n"]:
            print(f"  {label:<26} n={p['n']:<4} p50 {p['p50']:.2f}s  p99 {p['p99']:.2f}s")
        else:
            print(f"  {label:<26} n=0")
    print(
        f"  error rate (5xx, timeouts, refused): {failures}/{tally.requests} "
        f"= {failures / max(tally.requests, 1):.2%}; 4xx: {client_errors or 'none'}"
    )
    print(
        f"  sessions: {outcome.completed} completed, {outcome.failed} failed, {len(outcome.stuck)} stuck"
    )
    print("  resident memory (MiB), start -> end:")
    for name in before:
        print(f"    {name:<14} {before[name]:7.1f} -> {after.get(name, float('nan')):7.1f}")
    print(
        f"  invariants: {'held' if outcome.held else 'BROKEN: ' + '; '.join(outcome.broken + outcome.stuck)[:500]}"
    )
    return 0 if outcome.held and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
