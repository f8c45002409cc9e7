"""The question bank in Mongo: `questions` holds each question's current version,
`question_versions` every version ever published (sessions keep the version they got)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pymongo import ASCENDING
from servicekit.mongo import AsyncDatabase, Document

from interviews.domain.questions import Question

SEED_DIR = Path(__file__).resolve().parents[1] / "bank"
QUESTION = TypeAdapter(Question)


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
            await self.publish(question, now)
            written += 1
        return written

    async def publish(self, question: Any, now: datetime | None = None) -> Document:
        doc = self._document(question, now or datetime.now(UTC))
        await self.versions.replace_one(
            {"_id": f"{question.id}@{question.version}"},
            doc | {"_id": f"{question.id}@{question.version}"},
            upsert=True,
        )
        await self.questions.replace_one({"_id": question.id}, doc, upsert=True)
        return doc

    async def get(self, question_id: str) -> Document | None:
        return await self.questions.find_one({"_id": question_id, "active": True})

    async def deactivate(self, question_id: str) -> bool:
        result = await self.questions.update_one(
            {"_id": question_id, "active": True}, {"$set": {"active": False}}
        )
        return result.modified_count == 1

    async def search(
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
        query: dict[str, Any] = {"active": True}
        if type_:
            query["type"] = type_
        if difficulty:
            query["difficulty"] = difficulty
        if tags:
            query["tags"] = {"$all" if tags_mode == "all" else "$in": tags}
        if text:
            query["search"] = {"$regex": re.escape(text.lower())}
        total = await self.questions.count_documents(query)
        cursor = self.questions.find(query).sort("_id", ASCENDING).skip(offset).limit(limit)
        return await cursor.to_list(), total

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
