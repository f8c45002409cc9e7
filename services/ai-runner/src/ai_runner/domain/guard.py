"""Scores are bounded by evidence, whatever produced them (model or offline grader): the
answer is data, so nothing in it can talk the score up.

- A quote that is not verbatim in the answer is discarded, and so is one taken from text that
  addresses the grader (`ai_runner.domain.injection`, the one detector for every grader).
- A rubric dimension without valid evidence cannot score above `NO_EVIDENCE_CAP`.
- A model's score for a dimension cannot exceed the offline grader's for the same dimension
  by more than `MODEL_MARGIN`: the offline grader reads only what the answer shows (structure,
  first-person actions, figures, outcomes, relevance), never instructions, so a model that was
  talked into a high score is brought back to what the answer supports plus a margin for the
  judgement a model adds.
- A coding answer cannot score above what its tests allow. When none passes, how they
  failed still says something: code that ran every test to an answer (a wrong one) shows
  more than code that never finished or never ran (time limit, crash, missing function), so
  with the judge's verdicts the cap runs from `NO_RUN_CAP` to `WRONG_ANSWER_CAP`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from contracts.events import AnswerResult, DimensionScore

from ai_runner.domain.injection import instruction_lines, looks_like_instruction

NO_EVIDENCE_CAP = 30
MIN_QUOTE_CHARS = 8
MODEL_MARGIN = 20
NO_PASS_CAP = 10  # no test passed, and how they failed is not known
NO_RUN_CAP = 5  # no test ran to an answer: every one timed out, crashed or found no function
WRONG_ANSWER_CAP = 20  # every test ran to an answer, and every answer was wrong


def _normalise(text: str) -> str:
    # whitespace may be reflowed; wording and case may not
    return re.sub(r"\s+", " ", text).strip()


def quote_is_verbatim(quote: str, answer: str) -> bool:
    q = _normalise(quote)
    return len(q) >= MIN_QUOTE_CHARS and q in _normalise(answer)


def quote_is_instruction(quote: str, flagged: list[str]) -> bool:
    """A quote that is, or overlaps, text addressing the grader."""
    q = _normalise(quote)
    if looks_like_instruction(q):
        return True
    return any(q in (f := _normalise(line)) or f in q for line in flagged)


def bound_dimension(
    dimension: DimensionScore,
    answer: str,
    flagged: list[str] | None = None,
    ceiling: int | None = None,
) -> DimensionScore:
    flagged = instruction_lines(answer) if flagged is None else flagged
    evidence = tuple(
        q
        for q in dimension.evidence
        if quote_is_verbatim(q, answer) and not quote_is_instruction(q, flagged)
    )
    score = dimension.score if evidence else min(dimension.score, NO_EVIDENCE_CAP)
    if ceiling is not None:
        score = min(score, ceiling)
    return dimension.model_copy(update={"evidence": evidence, "score": score})


def weighted_score(dimensions: tuple[DimensionScore, ...], weights: dict[str, float]) -> int:
    if not dimensions:
        return 0
    total_weight = sum(weights.get(d.dimension, 1.0) for d in dimensions)
    value = sum(d.score * weights.get(d.dimension, 1.0) for d in dimensions) / total_weight
    return max(0, min(100, round(value)))


def bound_behavioral(
    result: AnswerResult,
    answer: str,
    weights: dict[str, float],
    reference: AnswerResult | None = None,
    flagged: list[str] | None = None,
) -> AnswerResult:
    """Bound a behavioural grading by its evidence; with `reference` (the offline grader's
    reading of the same answer, given when a model graded it), each dimension also by the
    reference's score for it plus MODEL_MARGIN. `flagged`: the answer's text that addresses
    the grader when the caller has already found it with the same detector (the offline
    grader has); otherwise it is found here."""
    flagged = instruction_lines(answer) if flagged is None else flagged
    ceilings: dict[str, int] = {}
    if reference is not None:
        ceilings = {d.dimension: min(100, d.score + MODEL_MARGIN) for d in reference.dimensions}
    dimensions = tuple(
        bound_dimension(
            d,
            answer,
            flagged,
            ceilings.get(d.dimension, NO_EVIDENCE_CAP) if reference is not None else None,
        )
        for d in result.dimensions
    )
    return result.model_copy(
        update={"dimensions": dimensions, "score": weighted_score(dimensions, weights)}
    )


def code_cap(test_share: float, verdicts: Mapping[str, int] | None = None) -> int:
    """The most a coding answer can score when `test_share` (0..1, weighted) of tests pass:
    review quality can add at most 20 points above the correctness share. With no test
    passed, `verdicts` (the judge's count per verdict) tell code that runs to a wrong answer
    from code that never gets to one."""
    if test_share > 0:
        return max(0, min(100, round(test_share * 100) + 20))
    total = sum(verdicts.values()) if verdicts else 0
    if not verdicts or not total:
        return NO_PASS_CAP
    answered = verdicts.get("wrong_answer", 0) / total
    return round(NO_RUN_CAP + (WRONG_ANSWER_CAP - NO_RUN_CAP) * answered)


def bound_code(
    result: AnswerResult, test_share: float, verdicts: Mapping[str, int] | None = None
) -> AnswerResult:
    return result.model_copy(update={"score": min(result.score, code_cap(test_share, verdicts))})
