"""A candidate's progress, folded from their scored sessions (pure, no I/O): per competency
and per rubric dimension the average score by ISO week, and per question the best and the
latest score. The same sessions always give the same answer, so it is as rebuildable as the
sessions read model it is computed from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.calendar import iso_week

CODING_COMPETENCY = "coding"


def _scored_at(session: Mapping[str, Any]) -> datetime | None:
    history = session.get("score_history") or []
    when = history[-1].get("scored_at") if history else None
    when = when or session.get("updated_at") or session.get("created_at")
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the store hands UTC back without a zone
    return when


def _lines(samples: Mapping[str, Mapping[str, list[int]]], kind: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "kind": kind,
            "weeks": [
                {"week": week, "average": round(sum(v) / len(v), 1), "answers": len(v)}
                for week, v in sorted(weeks.items())
            ],
        }
        for name, weeks in sorted(samples.items())
    ]


def progress_of(sessions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    competencies: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    dimensions: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    questions: dict[str, dict[str, Any]] = {}
    completed = 0
    ordered = sorted(
        (s for s in sessions if s.get("status") == "completed" and _scored_at(s)),
        key=lambda s: (_scored_at(s), s.get("_id", s.get("id", ""))),
    )
    for session in ordered:
        completed += 1
        when = _scored_at(session)
        assert when is not None
        week = iso_week(when)
        by_id = {q.get("question_id"): q for q in session.get("questions") or []}
        for result in session.get("results") or []:
            if result.get("verdict") == "insufficient":
                continue  # not scored: it says nothing about the skill
            qid, score = result["question_id"], int(result["score"])
            question = by_id.get(qid, {})
            kind = question.get("kind") or question.get("type")
            names = (
                [CODING_COMPETENCY]
                if kind == "coding"
                else list(question.get("competencies") or []) or ["behavioural"]
            )
            for name in names:
                competencies[name][week].append(score)
            for dimension in result.get("dimensions") or []:
                dimensions[dimension["dimension"]][week].append(int(dimension["score"]))
            entry = questions.setdefault(qid, {"question_id": qid, "best": score, "attempts": 0})
            entry["best"] = max(entry["best"], score)
            entry["latest"] = score
            entry["latest_at"] = when
            entry["attempts"] += 1
    return {
        "sessions_completed": completed,
        "competencies": _lines(competencies, "competency"),
        "dimensions": _lines(dimensions, "dimension"),
        "questions": sorted(questions.values(), key=lambda q: q["question_id"]),
    }
