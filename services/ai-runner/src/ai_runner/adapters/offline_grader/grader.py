"""The offline grader: deterministic scoring used when no model key is set, and the
reference a model's behavioural grading is bounded by (`ai_runner.domain.guard`).

No randomness, no network, no clock: the same question and answer always give the same
`AnswerResult` for the same `PROMPT_VERSION` (nothing iterates over a `set` or `dict` whose
order could change between processes; similarities are rounded). It stands beside the model
adapter (`ai_runner.adapters.gemini`) and implements the same port.

- `behavioural`: rubric dimensions from the answer's structure (first-person actions,
  figures, outcomes, reflection, length), scaled by `relevance` (semantic similarity to the
  question, from the embedding model in the `wordllama` wheel).
- `review` with `code_analysis`: coding answers from the judge's summary plus static analysis.
- `injection`: what the shared detector (`ai_runner.domain.injection`) means for the reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contracts.events import (
    Answer,
    AnswerResult,
    BehavioralQuestionSnapshot,
    CodingQuestionSnapshot,
    QuestionGuidance,
)

from ai_runner.adapters.offline_grader import relevance
from ai_runner.adapters.offline_grader.behavioural import focus, grade_behavioral_answer, to_you
from ai_runner.adapters.offline_grader.review import review_code_answer
from ai_runner.app.ports import JudgeSummary, Usage

MODEL = "offline-1"
# 3: relevance by meaning (wordllama) instead of synonym tables; structural signals only
# 4: instructions found by whom they address; more ways of drawing a lesson and of reaching
#    beyond the task read as reflection and impact; failing code capped by how it failed
PROMPT_VERSION = "offline-rubric-4"


def _usage() -> Usage:
    return Usage(model=MODEL, calls=0)


def introduction(
    questions: Sequence[CodingQuestionSnapshot | BehavioralQuestionSnapshot],
) -> tuple[str, list[QuestionGuidance]]:
    """A friendly introduction and per-question guidance (pure function)."""
    coding = sum(1 for q in questions if isinstance(q, CodingQuestionSnapshot))
    behavioral = len(questions) - coding
    kinds = []
    if coding:
        kinds.append(f"{coding} coding question{'s' if coding != 1 else ''}")
    if behavioral:
        kinds.append(f"{behavioral} behavioural question{'s' if behavioral != 1 else ''}")
    total = len(questions)
    parts = [
        f"Hi, and welcome! I'll be your interviewer today. We have {total} "
        f"question{'s' if total != 1 else ''}: {' and '.join(kinds) if kinds else 'none'}."
    ]
    if coding:
        parts.append(
            "For coding, restate the problem, work an example, say the time and space "
            "complexity you are aiming for, then write clear code and test it on the examples "
            "and an edge case or two. Your code runs against hidden tests, and the review "
            "looks at approach, complexity and clarity."
        )
    if behavioral:
        parts.append(
            "For behavioural questions, tell one real story per question using STAR: the "
            "situation, your own task, the actions you personally took, and the result - with "
            "numbers where you can - then what you learned."
        )
    parts.append("Take your time; there are no trick questions. Good luck!")
    guidance: list[QuestionGuidance] = []
    for q in questions:
        if isinstance(q, CodingQuestionSnapshot):
            edge = [
                r.split(":", 1)[1].strip() for r in q.rubric if r.lower().startswith("edge cases:")
            ]
            target = q.optimal_complexity or "the best bound you can justify"
            text = (
                f"{q.title}: clarify the input and output first"
                + (
                    f", and the edge cases ({edge[0].rstrip('.')})"
                    if edge
                    else ", and edge cases such as empty input and duplicates"
                )
                + f". Work through the examples, then aim for {target}; explain why a brute-force "
                "approach would be slower. Use clear names and test your function "
                f"`{q.function_name}` on the examples before submitting."
            )
        else:
            comps = ", ".join(c.replace("-", " ") for c in q.competencies)
            action = next((r.description for r in q.rubric if r.dimension == "action"), "")
            text = (
                f"{q.title}: pick one real example ({focus(q.prompt)}) and tell it as STAR - "
                "the situation and what was at stake, your own task, 3-4 actions you took "
                "yourself (say 'I', not only 'we'), and a measurable result; finish with what "
                "you learned."
                + (f" This question looks for {comps}." if comps else "")
                + (f" A strong answer {to_you(action[0].lower() + action[1:])}" if action else "")
            )
            text = text if text.endswith(".") else text + "."
        guidance.append(QuestionGuidance(question_id=q.question_id, guidance=text))
    return " ".join(parts), guidance


class OfflineGrader:
    """Implements `ai_runner.app.ports.Grader` without a model provider."""

    model = MODEL
    prompt_version = PROMPT_VERSION

    def __init__(self, *, judge_relevance: bool = True) -> None:
        # False: read answers for what their text shows, whatever they are about (the
        # reference a model's grading is bounded by)
        self.judge_relevance = judge_relevance

    async def warm_up(self) -> None:
        """Load the embedding model in a worker thread (about 0.3 s), off the event loop."""
        await asyncio.to_thread(relevance.warm_up)

    async def introduce(
        self, questions: list[CodingQuestionSnapshot | BehavioralQuestionSnapshot]
    ) -> tuple[str, list[QuestionGuidance], Usage]:
        text, guidance = introduction(questions)
        return text, guidance, _usage()

    async def grade_behavioral(
        self, question: BehavioralQuestionSnapshot, answer: str
    ) -> tuple[AnswerResult, Usage]:
        # a few milliseconds of regexes and one embedding: in a thread, so neither they nor
        # the model's first load hold the event loop
        result = await asyncio.to_thread(
            grade_behavioral_answer, question, answer, judge_relevance=self.judge_relevance
        )
        return result, _usage()

    async def review_code(
        self, question: CodingQuestionSnapshot, answer: Answer, judge: JudgeSummary
    ) -> tuple[AnswerResult, Usage]:
        return review_code_answer(question, answer, judge), _usage()
