"""The `sessions` read model: what `GET /interviews[/{id}]` returns, folded from the session
stream in the same transaction as each append, and rebuildable from the stream."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from contracts import (
    AnswersSubmitted,
    EventEnvelope,
    SessionFailed,
    SessionReady,
    SessionRequested,
    SessionScored,
    SessionStatusChanged,
)
from contracts.views import candidate_question
from pymongo import ASCENDING, DESCENDING
from servicekit.mongo import AsyncClientSession, AsyncDatabase, Document

_UNKNOWN: Any = object()  # the time limit was not given: read it from the view


class SessionsView:
    name = "sessions"

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[self.name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        await self.collection.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])
        await self.collection.create_index([("status", ASCENDING), ("deadline_at", ASCENDING)])

    async def apply(self, envelope: EventEnvelope, session: AsyncClientSession | None) -> None:
        """Fold one event in (a rebuild replays the stream through here)."""
        update = await self._update(envelope, session, _UNKNOWN)
        await self.collection.update_one(
            {"_id": envelope.aggregate_id}, update, upsert=True, session=session
        )

    async def apply_all(
        self,
        envelopes: list[EventEnvelope],
        session: AsyncClientSession | None,
        time_limit_minutes: int | None,
        read_back: bool = False,
    ) -> Document | None:
        """Fold the events one command appended to one session in a single write (not one
        per event) and, with `read_back`, return the view as it now is, read inside the same
        transaction. `time_limit_minutes` is the session's (the caller's aggregate knows it),
        so the view need not be read for it.

        An update and a find by `_id`, not one findAndModify: secantusdb (0.7.0b3) answers a
        findAndModify that matches an existing document by scanning the collection (measured:
        ~1 s at 20,000 one-kilobyte documents, against ~5 ms for update_one or find_one by
        `_id`), and `sessions` grows with every interview."""
        if not envelopes:
            return None
        sets: dict[str, Any] = {}
        pushes: dict[str, list[Any]] = {}
        for envelope in envelopes:
            update = await self._update(envelope, session, time_limit_minutes)
            for field, value in update["$set"].items():
                sets[field] = value
                pushes.pop(field, None)  # set after a push: the set wins, as in two writes
            for field, value in update.get("$push", {}).items():
                if isinstance(sets.get(field), list):
                    # set by an earlier event of this write: one update may not both set
                    # and push a field, so push onto the value being set
                    sets[field] = [*sets[field], value]
                else:
                    pushes.setdefault(field, []).append(value)
        merged: dict[str, Any] = {"$set": sets}
        if pushes:
            merged["$push"] = {field: {"$each": values} for field, values in pushes.items()}
        sid = envelopes[0].aggregate_id
        await self.collection.update_one({"_id": sid}, merged, upsert=True, session=session)
        if not read_back:
            return None
        doc: Document | None = await self.collection.find_one({"_id": sid}, session=session)
        return doc

    async def _update(
        self, envelope: EventEnvelope, session: AsyncClientSession | None, time_limit: Any
    ) -> dict[str, Any]:
        event = envelope.event()
        sid = envelope.aggregate_id
        update: dict[str, Any] = {"$set": {"version": envelope.aggregate_version}}
        if isinstance(event, SessionRequested):
            update["$set"] |= {
                "user_id": event.user_id,
                "type": event.session_type,
                "difficulty": event.difficulty,
                "questions": [
                    candidate_question(q.model_dump(mode="json")) for q in event.questions
                ],
                "quota_week": event.quota_week,
                "created_at": event.requested_at,
                "answers": [],
                "results": [],
                "overall_score": None,
                "summary": None,
                "guidance": [],
                "introduction": None,
                "failure_reason": None,
                "transcript_key": None,
                "history": [],
                "score_history": [],
                "time_limit_minutes": event.time_limit_minutes,
                "deadline_at": None,
            }
        elif isinstance(event, SessionReady):
            update["$set"] |= {
                "introduction": event.introduction,
                "guidance": [g.model_dump(mode="json") for g in event.guidance],
            }
        elif isinstance(event, AnswersSubmitted):
            update["$set"] |= {
                "answers": [a.model_dump(mode="json") for a in event.answers],
                "submitted_at": event.submitted_at,
                "submitted_automatically": event.automatic,
            }
        elif isinstance(event, SessionScored):
            update["$set"] |= {
                "results": [r.model_dump(mode="json") for r in event.results],
                "overall_score": event.overall_score,
                "insufficient_answers": event.insufficient_answers,
                "summary": event.summary,
                "transcript_key": event.transcript_key,
                "usage": event.usage.model_dump(mode="json") if event.usage else None,
            }
            # every scoring is kept: an admin re-score adds one, the old result stays
            update["$push"] = {
                "score_history": {
                    "overall_score": event.overall_score,
                    "scored_at": event.scored_at,
                    "model": event.usage.model if event.usage else None,
                    "transcript_key": event.transcript_key,
                }
            }
        elif isinstance(event, SessionFailed):
            update["$set"] |= {"failure_reason": event.reason}
        elif isinstance(event, SessionStatusChanged):
            update["$set"] |= {"status": event.status, "updated_at": event.changed_at}
            if event.status == "ready":
                # a timed interview's clock starts when the candidate can see the questions
                minutes = time_limit
                if minutes is _UNKNOWN:
                    known = await self.collection.find_one(
                        {"_id": sid}, {"time_limit_minutes": 1}, session=session
                    )
                    minutes = (known or {}).get("time_limit_minutes")
                if minutes:
                    update["$set"]["deadline_at"] = event.changed_at + timedelta(minutes=minutes)
            update["$push"] = {
                "history": {
                    "status": event.status,
                    "sequence": event.sequence,
                    "at": event.changed_at,
                    "reason": event.reason,
                    "overall_score": event.overall_score,
                }
            }
        return update

    async def reset(self) -> None:
        await self.collection.drop()
        await self.ensure_indexes()

    async def stats(self) -> dict[str, Any]:
        """For the admins' `/internal/stats`: sessions by status, by quota week (the last
        twelve), and the completed ones' average score."""
        by_status = {
            d["_id"]: d["n"]
            async for d in await self.collection.aggregate(
                [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
            )
        }
        by_week = {
            d["_id"]: d["n"]
            async for d in await self.collection.aggregate(
                [
                    {"$group": {"_id": "$quota_week", "n": {"$sum": 1}}},
                    {"$sort": {"_id": -1}},
                    {"$limit": 12},
                ]
            )
        }
        scores = [
            d
            async for d in await self.collection.aggregate(
                [
                    {"$match": {"status": "completed"}},
                    {"$group": {"_id": None, "avg": {"$avg": "$overall_score"}, "n": {"$sum": 1}}},
                ]
            )
        ]
        return {
            "interviews_by_status": by_status,
            "interviews_by_week": by_week,
            "average_score": round(scores[0]["avg"], 1) if scores else None,
            "completed": scores[0]["n"] if scores else 0,
        }

    async def get(self, session_id: str) -> Document | None:
        return await self.collection.find_one({"_id": session_id})

    async def past_time_limit(self, now: datetime, limit: int = 100) -> list[str]:
        """Timed sessions still `ready` whose deadline has passed (a page of them)."""
        cursor = self.collection.find(
            {"status": "ready", "deadline_at": {"$lte": now}}, {"_id": 1}
        ).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def unchanged_since(self, status: str, before: datetime, limit: int = 100) -> list[str]:
        """Sessions in `status` whose last change is older than `before` (a page of them)."""
        cursor = self.collection.find(
            {"status": status, "updated_at": {"$lt": before}}, {"_id": 1}
        ).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def completed_of(self, user_id: str) -> list[Document]:
        """A user's completed sessions, with what their progress is read from."""
        cursor = self.collection.find(
            {"user_id": user_id, "status": "completed"},
            {"questions": 1, "results": 1, "score_history": 1, "status": 1, "updated_at": 1},
        )
        return await cursor.to_list()

    async def list_for(self, user_id: str, limit: int, offset: int) -> tuple[list[Document], int]:
        query = {"user_id": user_id}
        total = await self.collection.count_documents(query)
        cursor = (
            self.collection.find(query).sort("created_at", DESCENDING).skip(offset).limit(limit)
        )
        return await cursor.to_list(), total

    async def recent_question_ids(self, user_id: str, sessions: int = 5) -> set[str]:
        cursor = (
            self.collection.find({"user_id": user_id}, {"questions.question_id": 1})
            .sort("created_at", DESCENDING)
            .limit(sessions)
        )
        return {q["question_id"] async for doc in cursor for q in doc.get("questions", [])}
