"""What a candidate may see of a question, a scored result and a transcript.

One owner for the rule, used by every service that answers a candidate: the session view
(interviews), `GET /questions[/{id}]` (interviews), the transcript (ai-runner). A candidate
never sees a hidden test (its input or expected value), a grader's rubric bands, sample or
reference answers, or the optimal complexity the reviewer is told; admins get the full
documents from the same services.

Questions come in two spellings: a session's snapshot (`kind`) and a stored bank document
(`type`); both are handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# fields of a coding question meant for the judge and the grader only
_CODING_SECRETS = (
    "tests",
    "rubric",
    "optimal_complexity",
    "reference_solutions",
    "wrong_solutions",
)
# fields of a behavioural question meant for the grader only
_BEHAVIORAL_SECRETS = ("sample_answer",)
# what a candidate sees of a behavioural rubric dimension (not the score bands or weights)
_RUBRIC_FIELDS = ("dimension", "description")


def _kind(question: Mapping[str, Any]) -> str:
    return str(question.get("kind") or question.get("type") or "")


def candidate_question(question: Mapping[str, Any]) -> dict[str, Any]:
    """A question (JSON-shaped) as the candidate sees it: a coding question keeps only its
    visible examples (input and expected), a behavioural one its rubric dimensions and what
    each asks for."""
    data = dict(question)
    # one spelling for clients: `id` and `type` whichever the source used
    if "id" not in data and "question_id" in data:
        data["id"] = data["question_id"]
    if "type" not in data and data.get("kind"):
        data["type"] = data["kind"]
    if _kind(data) == "coding":
        tests = data.get("tests") or []
        for secret in _CODING_SECRETS:
            data.pop(secret, None)
        data["examples"] = [
            {"input": t["input"], "expected": t["expected"]} for t in tests if t.get("visible")
        ] or data.get("examples", [])
    else:
        for secret in _BEHAVIORAL_SECRETS:
            data.pop(secret, None)
        data["rubric"] = [
            {k: r[k] for k in _RUBRIC_FIELDS if k in r}
            for r in data.get("rubric") or []
            if isinstance(r, Mapping)
        ]
    return data


def candidate_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A scored answer as the candidate sees it: a hidden test keeps its verdict and the
    judge's short reason, but not its time, memory or printed output (candidate code could
    spell a hidden input in how long it sleeps, or print it)."""
    data = dict(result)
    if data.get("tests"):
        data["tests"] = [
            t
            if t.get("visible")
            else {k: v for k, v in t.items() if k not in ("time_ms", "memory_kb", "output", "got")}
            for t in data["tests"]
        ]
    return data


def candidate_transcript(transcript: Mapping[str, Any]) -> dict[str, Any]:
    """A stored transcript as its owner may read it."""
    data = {k: v for k, v in transcript.items() if k != "user_id"}
    data["entries"] = [
        {
            **entry,
            "question": candidate_question(entry["question"]),
            "result": candidate_result(entry["result"]) if entry.get("result") else None,
        }
        for entry in transcript.get("entries") or []
    ]
    return data
