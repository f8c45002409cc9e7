"""Scores are bounded by evidence, whoever produced them."""

from __future__ import annotations

from ai_runner.domain.guard import (
    NO_EVIDENCE_CAP,
    bound_behavioral,
    bound_code,
    code_cap,
    quote_is_verbatim,
)
from contracts.events import AnswerResult, DimensionScore

ANSWER = "I rewrote the pricing query.\nLatency fell   from 900 ms to 210 ms."


def test_only_verbatim_quotes_count() -> None:
    assert quote_is_verbatim("Latency fell from 900 ms to 210 ms.", ANSWER)  # reflowed spaces
    assert not quote_is_verbatim("latency fell from 900 ms", ANSWER)  # case changed
    assert not quote_is_verbatim("Latency fell to 10 ms", ANSWER)  # invented
    assert not quote_is_verbatim("I", ANSWER)  # too short to be evidence


def test_a_dimension_without_valid_evidence_cannot_score_high() -> None:
    raw = AnswerResult(
        question_id="q",
        score=100,
        dimensions=(
            DimensionScore(dimension="result", score=100, evidence=("Latency fell to 1 ms",)),
            DimensionScore(
                dimension="action", score=90, evidence=("I rewrote the pricing query.",)
            ),
        ),
    )
    bounded = bound_behavioral(raw, ANSWER, {"result": 1.5, "action": 1.5})
    result, action = bounded.dimensions
    assert result.score == NO_EVIDENCE_CAP and result.evidence == ()
    assert action.score == 90 and action.evidence == ("I rewrote the pricing query.",)
    assert bounded.score == round((NO_EVIDENCE_CAP + 90) / 2)


def test_code_scores_are_capped_by_the_tests() -> None:
    claimed = AnswerResult(question_id="q", score=100)
    assert bound_code(claimed, 0.0).score == code_cap(0.0) == 10
    assert bound_code(claimed, 0.5).score == 70
    assert bound_code(claimed, 1.0).score == 100
