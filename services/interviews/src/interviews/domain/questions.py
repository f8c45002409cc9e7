"""Questions of the bank: the shapes live in `contracts.questions` (the gateway's contract
uses them too); what users may see of a stored one is decided here."""

from __future__ import annotations

from typing import Any

from contracts.questions import (
    ID_PATTERN,
    REQUIRED_DIMENSIONS,
    BehavioralQuestion,
    CodingQuestion,
    Question,
)
from contracts.views import candidate_question
from pydantic import TypeAdapter

__all__ = [
    "ID_PATTERN",
    "QUESTION",
    "REQUIRED_DIMENSIONS",
    "BehavioralQuestion",
    "CodingQuestion",
    "Question",
    "public_view",
]

QUESTION: TypeAdapter[Any] = TypeAdapter(Question)


def public_view(doc: dict[str, Any], admin: bool) -> dict[str, Any]:
    """A stored question for the API: admins see everything; users see what
    `contracts.views.candidate_question` allows (no hidden tests, grader rubrics, reference,
    wrong or sample answers, optimal complexity)."""
    data = {k: v for k, v in doc.items() if k not in ("_id", "active", "search")}
    return data if admin else candidate_question(data)
