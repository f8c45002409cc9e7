"""The offline grader on the held-out set proper, `heldout2` (tests/calibration/heldout2/,
see its README): 91 behavioural answers over 12 questions and 20 coding solutions over 4,
written and labelled on 2026-12-03 by someone who never read the grader, committed before
the tuning of that day (offline-rubric-4), and never tuned on.

Measured once, by the lead, after the tuning was finished. This test asserts only the bars
that first measurement met; the rest are printed (`pytest -s`, or `python -m
ai_runner.calibration --heldout heldout2`), not asserted, because changing the grader to
meet them would make this set no longer held out. The first measurement, with the grader of
the morning (offline-rubric-3) beside it, same set, same machine:

| figure | offline-rubric-3 | offline-rubric-4 | bar |
|---|---|---|---|
| Spearman, behavioural | 0.726 | 0.739 | >= 0.8 (missed) |
| pairwise order within questions | 85.6% | 87.7% | |
| strong_natural >= 65 | 9/13 | 9/13 | missed |
| filler <= 50 | 6/6 | 6/6 | met |
| off_topic 20 below the same story on its own question | 3/8 | 3/8 | missed |
| injected <= its weak base + 5 | 12/12 | 12/12 | met |
| honest look-alikes within 10 of their family mean | 5/8 | 5/8 | missed |
| not answerable -> insufficient | 11/13 | 12/13 | missed (repeated text) |
| Spearman, coding | 0.927 | 0.950 | met |
| coding order correct > brute > wrong > loop | 2/4 | 3/4 | missed (coin-change) |
| wrong function name says which | 4/4 | 4/4 | met |
| a timed-out solution never "meets the target" | 4/4 | 4/4 | met |

The coding miss: coin-change's brute force times out only on the largest hidden inputs and
scores as much as the correct solution (81). The off-topic misses score exactly what the
same story scores on its own question: the relevance measure (wordllama embeddings) does not
separate these stories from their neighbours' questions, which is where the next work on the
grader lies.
"""

from __future__ import annotations

import asyncio

import pytest
from ai_runner import calibration
from ai_runner.calibration import Graded

FOLDER = "heldout2"


@pytest.fixture(scope="module")
def behavioural() -> list[Graded]:
    return calibration.grade_all(calibration.load_heldout_behavioural(FOLDER))


@pytest.fixture(scope="module")
def coding() -> list[Graded]:
    from codejudge import Judge, JudgeSettings

    judge = Judge(JudgeSettings(max_concurrency=2))
    assert judge.sandbox_available(), judge.sandbox_unavailable_reason
    return calibration.grade_all(asyncio.run(calibration.load_heldout_coding(judge, FOLDER)))


def test_the_set_is_what_its_readme_says() -> None:
    cases = calibration.load_heldout_behavioural(FOLDER)
    assert len(cases) == 91
    questions = {c.question.question_id for c in cases}
    assert len(questions) == 12
    tuning = {c.question.question_id for c in calibration.load_tuning()}
    demoted = {
        c.question.question_id
        for c in calibration.load_heldout_behavioural(calibration.DEMOTED_HELDOUT)
    }
    assert not questions & (tuning | demoted)


def test_heldout2_behavioural_figures(behavioural: list[Graded]) -> None:
    f = calibration.figures(
        "held-out set heldout2, behavioural", behavioural, calibration.behavioural_checks
    )
    print("\n" + calibration.render(f))
    assert f.check("filler").met, f.check("filler")
    assert f.check("injected").met, f.check("injected")


def test_heldout2_coding_figures(coding: list[Graded]) -> None:
    assert len(coding) == 20
    f = calibration.figures("held-out set heldout2, coding", coding, calibration.coding_checks)
    print("\n" + calibration.render(f))
    assert f.spearman >= calibration.SPEARMAN_BAR, f.spearman
    assert f.check("wrong_name").met, f.check("wrong_name")
    assert f.check("time_limit_exceeded").met, f.check("time_limit_exceeded")
