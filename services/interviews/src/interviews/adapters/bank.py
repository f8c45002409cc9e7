"""The question bank in Mongo: `questions` holds each question's current version,
`question_versions` every version ever published (sessions keep the version they got).

`bank_meta` holds one counter, `{_id: "bank", version}`, moved by every change to the bank
(an admin's edit, a seed that wrote something). `QuestionCatalog` keeps the active questions
in memory and reloads them when that counter moved: picking questions for a session costs one
small read instead of four queries, and an edit made through any replica is seen by every
replica at its next pick (the counter is in the shared database, not in a process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING
from servicekit.mongo import AsyncDatabase, Document

from interviews.domain.questions import QUESTION

SEED_DIR = Path(__file__).resolve().parents[1] / "bank"


def load_seed(directory: Path = SEED_DIR) -> list[Any]:
    """Every question file shipped in the repo, validated."""
    questions = []
    for path in sorted(directory.glob("*/*.json")):
        data = json.loads(path.read_text())
        question = QUESTION.validate_python(data)
        if question.id != path.stem:
            raise ValueError(f"{path}: id {question.id!r} does not match the file name")
        questions.append(question)
    return questions


class QuestionBank:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.questions = db["questions"]
        self.versions = db["question_versions"]
        self.meta = db["bank_meta"]

    async def version(self) -> int:
        doc = await self.meta.find_one({"_id": "bank"})
        return int(doc["version"]) if doc else 0

    async def changed(self) -> None:
        """Tell every replica's catalog to reload (after the change is written: a catalog
        that read the old counter reloads at its next look)."""
        await self.meta.update_one({"_id": "bank"}, {"$inc": {"version": 1}}, upsert=True)

    async def active(self) -> list[Document]:
        return await self.questions.find({"active": True}).sort("_id", ASCENDING).to_list()

    async def ensure_indexes(self) -> None:
        await self.questions.create_index([("type", ASCENDING), ("difficulty", ASCENDING)])
        await self.questions.create_index([("tags", ASCENDING)])

    @staticmethod
    def _document(question: Any, now: datetime) -> Document:
        data = question.model_dump(mode="json")
        search = f"{question.title}\n{question.prompt}".lower()
        return data | {
            "_id": question.id,
            "active": True,
            "updated_at": now.isoformat(),
            "search": search,
        }

    async def seed(self, questions: list[Any]) -> int:
        """Insert or upgrade shipped questions; idempotent, never downgrades an admin's edit."""
        now = datetime.now(UTC)
        written = 0
        for question in questions:
            current = await self.questions.find_one({"_id": question.id}, {"version": 1})
            if current is not None and current["version"] >= question.version:
                continue
            await self.publish(question, now, announce=False)
            written += 1
        if written:
            await self.changed()
        return written

    async def publish(
        self, question: Any, now: datetime | None = None, announce: bool = True
    ) -> Document:
        doc = self._document(question, now or datetime.now(UTC))
        await self.versions.replace_one(
            {"_id": f"{question.id}@{question.version}"},
            doc | {"_id": f"{question.id}@{question.version}"},
            upsert=True,
        )
        await self.questions.replace_one({"_id": question.id}, doc, upsert=True)
        if announce:
            await self.changed()
        return doc

    async def get(self, question_id: str) -> Document | None:
        return await self.questions.find_one({"_id": question_id, "active": True})

    async def exists(self, question_id: str) -> bool:
        """Whether the id was ever taken (a retired question's too)."""
        return await self.questions.find_one({"_id": question_id}, {"_id": 1}) is not None

    async def deactivate(self, question_id: str) -> bool:
        result = await self.questions.update_one(
            {"_id": question_id, "active": True}, {"$set": {"active": False}}
        )
        if result.modified_count == 1:
            await self.changed()
        return result.modified_count == 1

    async def candidates(
        self, type_: str, difficulty: str | None, tags: list[str] | None
    ) -> list[Document]:
        query: dict[str, Any] = {"active": True, "type": type_}
        if difficulty:
            query["difficulty"] = difficulty
        if tags:
            query["tags"] = {"$in": tags}
        # ids only: a coding question with its hidden tests is tens of kilobytes, and only
        # the few picked are needed in full (see `get_many`)
        return await self.questions.find(query, {"_id": 1}).sort("_id", ASCENDING).to_list()

    async def get_many(self, ids: list[str]) -> list[Document]:
        docs = {d["_id"]: d async for d in self.questions.find({"_id": {"$in": ids}})}
        return [docs[i] for i in ids if i in docs]

    def parse(self, doc: Document) -> Any:
        data = {k: v for k, v in doc.items() if k not in ("_id", "active", "updated_at", "search")}
        return QUESTION.validate_python(data)


class QuestionCatalog:
    """The active questions of the bank, held in memory for picking, valid while the bank's
    version counter has not moved. One per process; safe for concurrent use."""

    def __init__(self, bank: Callable[[], QuestionBank]) -> None:
        self._bank = bank
        self._version: int | None = None
        self._docs: list[Document] = []
        self._by_id: dict[str, Document] = {}
        self._parsed: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def fresh(self) -> QuestionCatalog:
        """Check the bank's version (one read) and reload if it moved."""
        bank = self._bank()
        version = await bank.version()
        if version != self._version:
            async with self._lock:
                if version != self._version:
                    # the version read before loading: a change that lands meanwhile moves
                    # the counter past it, so the next look reloads again
                    docs = await bank.active()
                    self._docs = docs
                    self._by_id = {d["_id"]: d for d in docs}
                    self._parsed = {}
                    self._version = version
        return self

    def candidates(self, type_: str, difficulty: str | None, tags: list[str] | None) -> list[str]:
        """Ids of the active questions that match, in id order (as the query sorted them)."""
        wanted = set(tags or ())
        return [
            d["_id"]
            for d in self._docs
            if d.get("type") == type_
            and (not difficulty or d.get("difficulty") == difficulty)
            and (not wanted or wanted & set(d.get("tags") or ()))
        ]

    def search(
        self,
        *,
        type_: str | None = None,
        difficulty: str | None = None,
        tags: list[str] | None = None,
        tags_mode: str = "any",
        text: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[Document], int]:
        """`QuestionBank.search` answered from memory (the same filters, id order and
        paging): the listing every start page asks for costs the version read, not a count
        and a scan of documents that carry their hidden tests."""
        wanted = set(tags or ())
        needle = text.lower() if text else None
        found = [
            d
            for d in self._docs  # `active()` returns them in id order
            if (not type_ or d.get("type") == type_)
            and (not difficulty or d.get("difficulty") == difficulty)
            and (
                not wanted
                or (
                    wanted <= set(d.get("tags") or ())
                    if tags_mode == "all"
                    else bool(wanted & set(d.get("tags") or ()))
                )
            )
            and (needle is None or needle in str(d.get("search", "")))
        ]
        return found[offset : offset + limit], len(found)

    def question(self, question_id: str) -> Any:
        """The parsed question (validated once per catalog load)."""
        parsed = self._parsed.get(question_id)
        if parsed is None:
            doc = self._by_id[question_id]
            data = {
                k: v for k, v in doc.items() if k not in ("_id", "active", "updated_at", "search")
            }
            parsed = self._parsed[question_id] = QUESTION.validate_python(data)
        return parsed
