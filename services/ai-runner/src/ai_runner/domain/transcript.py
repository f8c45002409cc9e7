"""A scored session's transcript as its readers get it: the stored JSON document, and the
same document rendered as Markdown (the owner's copy is cut down before either is made)."""

from __future__ import annotations

import json
from typing import Any


def render_markdown(transcript: dict[str, Any]) -> str:
    lines = [
        f"# Interview transcript: {transcript['session_id']}",
        "",
        f"Overall score: **{transcript['overall_score']}/100**  ",
        f"Graded by: {transcript['model']} (prompt {transcript['prompt_version']})",
        "",
    ]
    if transcript.get("summary"):
        lines += [transcript["summary"], ""]
    for number, entry in enumerate(transcript["entries"], start=1):
        question, answer, result = entry["question"], entry["answer"], entry["result"]
        lines += [
            f"## {number}. {question['title']} ({question['kind']})",
            "",
            question["prompt"],
            "",
            "### Answer",
            "",
        ]
        if answer is None:
            lines += ["_No answer._", ""]
        elif question["kind"] == "coding":
            lines += [f"```{answer.get('language') or ''}", answer["response"], "```", ""]
        else:
            lines += ["> " + answer["response"].replace("\n", "\n> "), ""]
        if result.get("verdict") == "insufficient":
            lines += [f"**Not enough to score:** {result.get('reason') or ''}", ""]
        else:
            lines += [f"**Score: {result['score']}/100**", ""]
        if result.get("tests"):
            passed = sum(t["verdict"] == "accepted" for t in result["tests"])
            lines += [f"Tests: {passed}/{len(result['tests'])} passed", ""]
            lines += [
                f"- `{t['test_id']}`: {t['verdict']}"
                + (f" ({t['detail']})" if t.get("detail") else "")
                for t in result["tests"]
            ]
            lines.append("")
        for dim in result.get("dimensions", []):
            lines.append(f"- **{dim['dimension']}** {dim['score']}/100: {dim['comment']}")
            lines += [f"  - \u201c{q}\u201d" for q in dim.get("evidence", [])]
        if result.get("strengths"):
            lines += ["", "Strengths:"] + [f"- {s}" for s in result["strengths"]]
        if result.get("improvements"):
            lines += ["", "To improve:"] + [f"- {s}" for s in result["improvements"]]
        if result.get("model_answer_outline"):
            lines += ["", "A strong answer would:", result["model_answer_outline"]]
        lines.append("")
    return "\n".join(lines)


def encode(transcript: dict[str, Any]) -> tuple[bytes, bytes]:
    return (
        json.dumps(transcript, indent=2, default=str).encode(),
        render_markdown(transcript).encode(),
    )
