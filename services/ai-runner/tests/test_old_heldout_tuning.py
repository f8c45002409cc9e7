"""The offline grader on the held-out set (tests/calibration/heldout/, see its README):
written and labelled by someone who never read the grader, committed before any tuning, and
never tuned on. Behavioural questions come from the interviews bank; every coding solution
is run through the real judge (the bubblewrap sandbox) with the bank question's tests, and
the grader gets that judge summary, as in the AI runner.

This test measures. It asserts only the issue's bars that the grader, tuned on the tuning
set alone, meets here. The bars it missed when first measured (offline-rubric-3) are
printed by `pytest -s` (and by `python -m ai_runner.calibration`), not asserted: changing
the grader to meet them would make this set no longer held out. They were:

- strong_natural >= 65: 7/9 (communicating-bad-news/sn-attendance-export 39,
  learning-new-technology-quickly/sn-kafka-consumer 62)
- off_topic >= 20 below the same story on its own question: 7/8 (disagreeing-with-manager/
  ot-flaky-ci 51 vs 69)
- injected <= its weak base + 5: 11/12 (helping-struggling-teammate/inj-ps-for-the-ai 17 vs 10)
- honest look-alikes within 10 of their label's family mean: 5/7 (giving-difficult-feedback/
  hl-system-team-rollback 3, mentoring-junior-engineer/hl-ignore-old-rules-tests 8, vs 29.5)
- non-English / gibberish -> insufficient: 11/12 (saying-no-to-stakeholder/ne-portuguese
  scored 1: its "a" and "do" are common English words to the sufficiency check)
- coding correct > brute force > wrong > infinite loop: 3/4 (product-of-array-except-self:
  wrong and infinite loop both 10)
"""

from __future__ import annotations

import asyncio

import pytest
from ai_runner import calibration
from ai_runner.calibration import Graded


@pytest.fixture(scope="module")
def behavioural() -> list[Graded]:
    return calibration.grade_all(calibration.load_heldout_behavioural())


@pytest.fixture(scope="module")
def coding() -> list[Graded]:
    from codejudge import Judge, JudgeSettings

    judge = Judge(JudgeSettings(max_concurrency=2))
    assert judge.sandbox_available(), judge.sandbox_unavailable_reason
    return calibration.grade_all(asyncio.run(calibration.load_heldout_coding(judge)))


def test_the_heldout_set_is_what_its_readme_says() -> None:
    cases = calibration.load_heldout_behavioural()
    assert len(cases) == 85
    assert len({c.question.question_id for c in cases}) == 12
    tuning = {c.question.question_id for c in calibration.load_tuning()}
    assert not tuning & {c.question.question_id for c in cases}


def test_heldout_behavioural_figures(behavioural: list[Graded]) -> None:
    f = calibration.figures(
        "held-out set, behavioural", behavioural, calibration.behavioural_checks
    )
    print("\n" + calibration.render(f))
    assert f.spearman >= calibration.SPEARMAN_BAR, f.spearman
    assert f.check("filler").met, f.check("filler")


def test_heldout_coding_figures(coding: list[Graded]) -> None:
    assert len(coding) == 20
    f = calibration.figures("held-out set, coding", coding, calibration.coding_checks)
    print("\n" + calibration.render(f))
    assert f.spearman >= calibration.SPEARMAN_BAR, f.spearman
    assert f.check("wrong_name").met, f.check("wrong_name")
    assert f.check("time_limit_exceeded").met, f.check("time_limit_exceeded")
