"""Benchmark of the AI runner's job claim as finished jobs pile up, in one run.

Every AI-runner worker claims its next job in a loop (and polls when idle), so the claim runs
all the time, and the jobs collection keeps every interview ever prepared or scored. What is
measured, against a Mongo-wire server (secantusdb started by the bench, or MONGO_URI):

- new: `JobQueue.claim` as the service runs it: two indexed reads of four fields (unleased jobs,
  jobs whose lease ran out), then a compare-and-set update on the lease seen, then the job.
- old (the baseline, in the same process against the same data): the one findAndModify the
  service used before, `status $in [...]` + `$or` on the lease, sorted by deadline.

For each count of finished jobs (`--finished`, default 0,1000,3000; each job carries a
20 KB question snapshot like a real one) with `--pending` claimable jobs (default 20):
milliseconds per claim for both, and old/new. Claimed leases are reset between rounds so every
claim finds work.

Run::

    cd /work/main && uv run python bench/claims.py
    uv run python bench/claims.py --finished 0,5000 --claims 30
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ai_runner.adapters.job_queue import JobQueue
from ai_runner.settings import Settings
from eventkit import mongo_server
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument

PAYLOAD = "x" * 20_000


async def old_claim(jobs: Any, worker: str) -> Any:
    now = datetime.now(UTC)
    return await jobs.find_one_and_update(
        {
            "status": {"$in": ["preparing", "scoring"]},
            "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}],
        },
        {"$set": {"claimed_by": worker, "lease_until": now + timedelta(seconds=60)}},
        sort=[("deadline_at", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )


async def run(uri: str, finished_counts: list[int], pending: int, claims: int) -> int:
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri, tz_aware=True)
    db = client[f"bench_claims_{int(time.time())}"]
    runner = JobQueue(lambda: db, Settings().job_lease_seconds, lambda: datetime.now(UTC))
    await runner.ensure_indexes()
    now = datetime.now(UTC)
    await runner.collection.insert_many(
        [
            {
                "_id": f"pending-{i}",
                "status": "preparing",
                "questions": [{"prompt": PAYLOAD}],
                "attempts": 0,
                "lease_until": None,
                "claimed_by": None,
                "deadline_at": now + timedelta(seconds=600 + i),
            }
            for i in range(pending)
        ]
    )
    inserted = 0
    rows = []
    failures = 0
    print(f"{'finished jobs':>14}{'new ms/claim':>14}{'old ms/claim':>14}{'old/new':>9}")
    for target in finished_counts:
        while inserted < target:
            batch = min(200, target - inserted)
            await runner.collection.insert_many(
                [
                    {
                        "_id": f"done-{inserted + i}",
                        "status": "completed",
                        "questions": [{"prompt": PAYLOAD}],
                        "attempts": 1,
                        "lease_until": None,
                        "claimed_by": None,
                        "deadline_at": now - timedelta(seconds=inserted + i),
                    }
                    for i in range(batch)
                ]
            )
            inserted += batch
        timings: dict[str, list[float]] = {"new": [], "old": []}
        for round_no in range(claims):
            for name in ("new", "old") if round_no % 2 == 0 else ("old", "new"):
                started = time.perf_counter()
                job = await (
                    runner.claim() if name == "new" else old_claim(runner.collection, "old")
                )
                timings[name].append((time.perf_counter() - started) * 1000)
                if job is None or not str(job["_id"]).startswith("pending-"):
                    failures += 1
            if round_no % max(1, pending // 2 - 1) == 0:  # keep work claimable
                await runner.collection.update_many(
                    {"status": "preparing"}, {"$set": {"lease_until": None, "claimed_by": None}}
                )
        new, old = statistics.median(timings["new"]), statistics.median(timings["old"])
        rows.append((target, new, old))
        print(f"{target:>14}{new:>14.2f}{old:>14.2f}{old / new:>8.1f}x", flush=True)
    await client.drop_database(db.name)
    await client.close()
    if failures:
        print(f"FAILED: {failures} claims found no pending job", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--finished", default="0,1000,3000", help="comma-separated counts")
    parser.add_argument("--pending", type=int, default=20)
    parser.add_argument("--claims", type=int, default=20, help="claims per count and method")
    args = parser.parse_args(argv)
    counts = sorted(int(n) for n in args.finished.split(","))
    with tempfile.TemporaryDirectory(prefix="mi-bench-claims-") as tmp:
        with mongo_server(Path(tmp)) as (uri, _pid):
            return asyncio.run(run(uri, counts, args.pending, args.claims))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
