"""Scores are bounded by evidence, whatever produced them (model or offline grader): the
answer is data, so nothing in it can talk the score up.

- A quote that is not verbatim in the answer is discarded.
- A rubric dimension without valid evidence cannot score above `NO_EVIDENCE_CAP`.
- A coding answer cannot score above what its tests allow.
"""

from __future__ import annotations

import re

from contracts.events import AnswerResult, DimensionScore

NO_EVIDENCE_CAP = 30
MIN_QUOTE_CHARS = 8


def _normalise(text: str) -> str:
    # whitespace may be reflowed; wording and case may not
    return re.sub(r"\s+", " ", text).strip()


def quote_is_verbatim(quote: str, answer: str) -> bool:
    q = _normalise(quote)
    return len(q) >= MIN_QUOTE_CHARS and q in _normalise(answer)


def bound_dimension(dimension: DimensionScore, answer: str) -> DimensionScore:
    evidence = tuple(q for q in dimension.evidence if quote_is_verbatim(q, answer))
    score = dimension.score if evidence else min(dimension.score, NO_EVIDENCE_CAP)
    return dimension.model_copy(update={"evidence": evidence, "score": score})


def weighted_score(dimensions: tuple[DimensionScore, ...], weights: dict[str, float]) -> int:
    if not dimensions:
        return 0
    total_weight = sum(weights.get(d.dimension, 1.0) for d in dimensions)
    value = sum(d.score * weights.get(d.dimension, 1.0) for d in dimensions) / total_weight
    return max(0, min(100, round(value)))


def bound_behavioral(result: AnswerResult, answer: str, weights: dict[str, float]) -> AnswerResult:
    dimensions = tuple(bound_dimension(d, answer) for d in result.dimensions)
    return result.model_copy(
        update={"dimensions": dimensions, "score": weighted_score(dimensions, weights)}
    )


def code_cap(test_share: float) -> int:
    """The most a coding answer can score when `test_share` (0..1, weighted) of tests pass:
    review quality can add at most 20 points above the correctness share."""
    return max(0, min(100, round(test_share * 100) + 20)) if test_share > 0 else 10


def bound_code(result: AnswerResult, test_share: float) -> AnswerResult:
    return result.model_copy(update={"score": min(result.score, code_cap(test_share))})
