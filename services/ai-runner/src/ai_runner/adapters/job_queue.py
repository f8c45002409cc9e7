"""The AI runner's lease queue: one document a session in the `jobs` collection, claimed by
a worker with a lease (`claimed_by`, `lease_until`), so several ai-runner processes share the
work and a killed worker's job is picked up again when its lease runs out.

How a worker finds work: the consumer that recorded a job announces its id to this process
(`announce`) once it is written, and a worker claims it by id (a compare-and-set update and a
find by `_id`). `claim` scans for the job due first among the unleased and the lease-expired:
the workers run it only every `job_poll_seconds` per process, for what no announcement told
(jobs recorded before a restart, a crashed worker's lease, jobs announced to a busy replica).

Every query here is written for the development server as much as for MongoDB: equality on
`_id` plus status, not `$in`, and an update then a find by `_id` rather than one
findAndModify (secantusdb answers both by scanning every job ever run)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

ACTIVE = ["preparing", "scoring"]  # the statuses with work to do
CLAIM_PAGE = 32  # candidates read per claim and kind (unleased, lease run out)
# The order claims take jobs in (stored as `deadline_at`, the earliest first): a job to prepare
# counts as due two minutes after it was recorded (a candidate waits in the room), answers to
# score ten minutes after. An order only: nothing fails when it passes (interviews owns the
# session's deadline).
PREPARE_DUE = timedelta(seconds=120)
SCORING_DUE = timedelta(seconds=600)


class JobQueue:
    def __init__(
        self,
        database: Callable[[], AsyncDatabase[Document]],
        lease_seconds: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._database = database  # read at each use: the store exists once the service runs
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wake = asyncio.Event()  # set when a job is announced
        self._announced: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @property
    def collection(self) -> Any:
        return self._database()["jobs"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", ASCENDING), ("lease_until", ASCENDING)])
        await self.collection.create_index([("status", ASCENDING), ("deadline_at", ASCENDING)])

    def announce(self, job_id: str, status: str) -> None:
        """A job was recorded (committed) with status `status` and no lease: claim it now."""
        self._announced.put_nowait((job_id, status))
        self.wake.set()

    # -- recording work ------------------------------------------------------------------
    async def add_to_prepare(
        self,
        job_id: str,
        fields: dict[str, Any],
        correlation_id: str | None,
        traceparent: str | None,
    ) -> None:
        """Insert the job only if it is not there: a redelivery changes nothing."""
        now = self.clock()
        await self.collection.update_one(
            {"_id": job_id},
            {
                "$setOnInsert": fields
                | {
                    "status": "preparing",
                    "answers": None,
                    "attempts": 0,
                    "lease_until": None,
                    "claimed_by": None,
                    "created_at": now,
                    "deadline_at": now + PREPARE_DUE,
                    "correlation_id": correlation_id,
                    "traceparent": traceparent,
                }
            },
            upsert=True,
        )
        self.announce(job_id, "preparing")

    async def add_to_score(
        self,
        job_id: str,
        answers: list[dict[str, Any]],
        correlation_id: str | None,
        traceparent: str | None,
    ) -> None:
        """Move the job to `scoring` only from `ready` or `preparing`; a redelivery, or late
        news, changes nothing. LookupError (to be redelivered) when the job is not there yet
        or moved meanwhile."""
        change = {
            "$set": {
                "status": "scoring",
                "answers": answers,
                "attempts": 0,
                "lease_until": None,
                "claimed_by": None,
                "correlation_id": correlation_id,
                "traceparent": traceparent,
                "deadline_at": self.clock() + SCORING_DUE,
            }
        }
        # a compare-and-set per status that may take answers, `ready` (the usual case) first
        for status in ("ready", "preparing"):
            moved = await self.collection.update_one({"_id": job_id, "status": status}, change)
            if moved.matched_count:
                self.announce(job_id, "scoring")
                return
        existing = await self.collection.find_one({"_id": job_id}, {"status": 1})
        if existing is None:
            # we have not seen its SessionRequested yet: let the broker redeliver
            raise LookupError(f"no job for session {job_id} yet")
        if existing["status"] in ("preparing", "ready"):
            # it moved between the two compare-and-sets: the redelivery tries again
            raise LookupError(f"job {job_id} changed meanwhile")
        # already scoring or finished: a redelivery, or late news

    async def add_to_rescore(
        self, job_id: str, requested_by: str, session: AsyncClientSession
    ) -> None:
        """Back to `scoring` with fresh attempts (in the caller's transaction); `announce`
        once it is committed."""
        await self.collection.update_one(
            {"_id": job_id},
            {
                "$set": {
                    "status": "scoring",
                    "attempts": 0,
                    "lease_until": None,
                    "claimed_by": None,
                    "rescore_requested_by": requested_by,
                    "deadline_at": self.clock() + SCORING_DUE,
                }
            },
            session=session,
        )

    async def abandon(self, job_id: str) -> bool:
        """The session is over (interviews failed it): a job still waiting or running is
        dropped, so no worker spends a model call on it. A worker already inside it finishes
        and its late result is ignored by interviews; a job already done is left as it is."""
        dropped = await self.collection.update_one(
            {"_id": job_id, "status": {"$in": [*ACTIVE, "ready"]}},
            {
                "$set": {
                    "status": "abandoned",
                    "lease_until": None,
                    "claimed_by": None,
                    "finished_at": self.clock(),
                }
            },
        )
        return bool(dropped.modified_count)

    # -- claiming --------------------------------------------------------------------------
    def _leased(self) -> dict[str, Any]:
        return {
            "$set": {"claimed_by": self.worker_id, "lease_until": self.clock() + self.lease},
            "$inc": {"attempts": 1},
        }

    async def claim_announced(self) -> Document | None:
        """Lease a job announced by `announce`, by id, if nobody has it yet; None when no
        announcement is left. The status in the filter is the one announced."""
        while not self._announced.empty():
            job_id, status = self._announced.get_nowait()
            taken = await self.collection.update_one(
                {"_id": job_id, "status": status, "lease_until": None}, self._leased()
            )
            if taken.modified_count == 1:
                job: Document | None = await self.collection.find_one({"_id": job_id})
                return job
            # taken by a scan (here or on another replica) already: the next announcement
        return None

    async def claim(self) -> Document | None:
        """Lease the claimable job due first (`deadline_at`), or None.

        Two indexed reads of a few fields (unleased jobs, jobs whose lease ran out), then a
        compare-and-set on the lease the candidate was seen with: if another worker took it
        in between, its lease changed and the update matches nothing, so try the next one.
        (One findAndModify with `$or` and a sort would do the same in one trip on MongoDB,
        but the development server answers it by scanning every job ever run: seconds per
        claim once thousands of interviews have finished, on every worker's every poll.)"""
        now = self.clock()
        fields = {"_id": 1, "status": 1, "lease_until": 1, "deadline_at": 1}
        candidates: list[Document] = []
        for lease in (None, {"$lt": now}):
            cursor = self.collection.find({"status": {"$in": ACTIVE}, "lease_until": lease}, fields)
            candidates += [c async for c in cursor.sort("deadline_at", ASCENDING).limit(CLAIM_PAGE)]
        candidates.sort(key=lambda c: c["deadline_at"])
        for candidate in candidates:
            taken = await self.collection.update_one(
                {
                    "_id": candidate["_id"],
                    "status": candidate["status"],
                    "lease_until": candidate["lease_until"],
                },
                self._leased(),
            )
            if taken.modified_count == 1:
                job: Document | None = await self.collection.find_one({"_id": candidate["_id"]})
                return job
        return None

    async def retry_soon(self, job_id: str) -> None:
        """The worker's attempt broke: leave the lease to run out in a moment, so another
        attempt (maybe another worker) retries it."""
        await self.collection.update_one(
            {"_id": job_id, "claimed_by": self.worker_id},
            {"$set": {"lease_until": self.clock() + timedelta(seconds=2)}},
        )

    async def release(self, job_ids: list[str]) -> int:
        """Hand this worker's leases on `job_ids` back, and the attempts they were charged:
        another replica takes them at once instead of when the lease runs out."""
        released = await self.collection.update_many(
            {"_id": {"$in": job_ids}, "claimed_by": self.worker_id, "status": {"$in": ACTIVE}},
            {"$set": {"lease_until": None, "claimed_by": None}, "$inc": {"attempts": -1}},
        )
        return int(released.modified_count)

    async def finish(
        self, job_id: str, status: str, extra: dict[str, Any], session: AsyncClientSession
    ) -> None:
        """Mark the job done (in the transaction that appends its event)."""
        await self.collection.update_one(
            {"_id": job_id},
            {"$set": {"status": status, "lease_until": None, "finished_at": self.clock(), **extra}},
            session=session,
        )

    # -- reading ---------------------------------------------------------------------------
    async def get(self, job_id: str, fields: dict[str, int] | None = None) -> Document | None:
        doc: Document | None = await self.collection.find_one({"_id": job_id}, fields)
        return doc

    async def count(self, status: str) -> int:
        return int(await self.collection.count_documents({"status": status}))

    async def usage_by_status(self) -> dict[str, Document]:
        """Jobs and model usage summed by status."""
        pipeline = [
            {
                "$group": {
                    "_id": "$status",
                    "n": {"$sum": 1},
                    "calls": {"$sum": "$usage.calls"},
                    "input_tokens": {"$sum": "$usage.input_tokens"},
                    "output_tokens": {"$sum": "$usage.output_tokens"},
                    "cost_usd": {"$sum": "$usage.cost_usd"},
                }
            }
        ]
        return {d["_id"]: d async for d in await self.collection.aggregate(pipeline)}
