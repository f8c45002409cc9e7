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


def test_with_no_test_passed_code_that_answers_outranks_code_that_never_finishes() -> None:
    claimed = AnswerResult(question_id="q", score=100)
    wrong = bound_code(claimed, 0.0, {"wrong_answer": 12}).score
    endless = bound_code(claimed, 0.0, {"time_limit_exceeded": 12}).score
    misnamed = bound_code(claimed, 0.0, {"runtime_error": 12}).score
    half = bound_code(claimed, 0.0, {"wrong_answer": 6, "time_limit_exceeded": 6}).score
    assert wrong > half > endless == misnamed
    assert wrong <= code_cap(0.1)  # passing one test in ten still counts for more
    # verdicts never raise the cap of code that passes tests
    assert bound_code(claimed, 0.5, {"accepted": 6, "wrong_answer": 6}).score == 70
