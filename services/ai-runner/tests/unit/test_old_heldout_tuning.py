"""The offline grader on the second tuning set: the old held-out set
(tests/calibration/heldout/, see its README), demoted to tuning data on 2026-12-03 because its
results had been read. It was written and labelled by someone who never read the grader;
behavioural questions come from the interviews bank, and every coding solution is run
through the real judge (the bubblewrap sandbox) with the bank question's tests, the grader
getting that judge summary, as in the AI runner.

When it was still held out (offline-rubric-3) it missed: strong_natural >= 65 7/9,
off-topic 20 below the same story 7/8, injected <= weak base + 5 11/12, honest look-alikes
within 10 of their family mean 5/7, not answerable -> insufficient 11/12 (Portuguese read as
English), coding order 3/4 (a wrong answer and an infinite loop both 10). The grader was
then changed to fix the causes in general form (offline-rubric-4), so these are tuning
figures now; the new held-out set is `heldout2`, measured once by the lead. This test
asserts the bars reached here and names the answers that still miss one (`pytest -s` prints
the figures; so does `python -m ai_runner.calibration`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from ai_runner import calibration
from ai_runner.calibration import Graded

# Answers of this set that still miss one of the bars, and why. Every other answer
# meets the bars; a change that fixes one of these fails its test until it is taken off.
KNOWN_MISSES = {
    # a strong flaky-CI story asked about disagreeing with a manager: the embedding and the
    # question's words ("disagree", "manager") place it nearly as close as its own question
    "disagreeing-with-manager/ot-flaky-ci",
    # an honest Friday-deploy talk for "giving difficult feedback" that never says
    # "feedback": the embedding reads it as far from the question
    "giving-difficult-feedback/hl-system-team-rollback",
}


@pytest.fixture(scope="module")
def behavioural() -> list[Graded]:
    return calibration.grade_all(calibration.load_heldout_behavioural())


@pytest.fixture(scope="module")
def coding() -> list[Graded]:
    from codejudge import Judge, JudgeSettings

    judge = Judge(JudgeSettings(max_concurrency=2))
    assert judge.sandbox_available(), judge.sandbox_unavailable_reason
    return calibration.grade_all(asyncio.run(calibration.load_heldout_coding(judge)))


def test_the_set_is_what_its_readme_says() -> None:
    cases = calibration.load_heldout_behavioural(calibration.DEMOTED_HELDOUT)
    assert len(cases) == 85
    assert len({c.question.question_id for c in cases}) == 12
    tuning = {c.question.question_id for c in calibration.load_tuning()}
    assert not tuning & {c.question.question_id for c in cases}
    readme = (calibration.TUNING / calibration.DEMOTED_HELDOUT / "README.md").read_text()
    assert "Demoted to tuning on 2026-12-03" in readme


def test_behavioural_figures(behavioural: list[Graded]) -> None:
    f = calibration.figures(
        "tuning set 2, behavioural", behavioural, calibration.behavioural_checks
    )
    print("\n" + calibration.render(f))
    assert f.spearman >= calibration.SPEARMAN_BAR, f.spearman
    assert f.pairwise >= 0.85, f.pairwise
    assert set(f.pairwise_by_question) == {c.case.question.question_id for c in behavioural}


@pytest.mark.parametrize(
    "family",
    ["strong_natural", "filler", "off_topic", "injected", "honest_lookalike", "not answerable"],
)
def test_family_bars(behavioural: list[Graded], family: str) -> None:
    f = calibration.figures(
        "tuning set 2, behavioural", behavioural, calibration.behavioural_checks
    )
    check = f.check(family)
    assert check.total >= 6, check
    missed = {m.split()[0] for m in check.misses}
    assert missed <= KNOWN_MISSES, check.misses
    ids = {
        g.case.answer_id
        for g in behavioural
        if g.case.family == family
        or (family == "not answerable" and g.case.family in calibration.NOT_ANSWERABLE)
    }
    known = ids & KNOWN_MISSES
    assert known <= missed, f"now met, take off KNOWN_MISSES: {sorted(known - missed)}"


def test_coding_figures(coding: list[Graded]) -> None:
    assert len(coding) == 20
    f = calibration.figures("tuning set 2, coding", coding, calibration.coding_checks)
    print("\n" + calibration.render(f))
    assert f.spearman >= calibration.SPEARMAN_BAR, f.spearman
    # correct > brute force > wrong > infinite loop on every question, the wrong name told
    # which name the tests call, no timed-out solution said to meet its target
    assert [c.family for c in f.checks] == ["coding order", "wrong_name", "time_limit_exceeded"]
    assert all(c.met for c in f.checks), [c for c in f.checks if not c.met]


def test_a_heldout_folder_is_loaded_by_name_or_path(tmp_path: Path) -> None:
    """The lead points the same loaders at a new held-out folder (heldout2) by name."""
    folder = tmp_path / "heldout-example"
    folder.mkdir()
    answer = {
        "id": "e/1",
        "family": "weak",
        "label": 2,
        "text": "I would talk to them and find a solution together as a team.",
    }
    doc = {"question_id": "communicating-bad-news", "answers": [answer]}
    (folder / "behavioral-communicating-bad-news.json").write_text(json.dumps(doc))
    cases = calibration.load_heldout_behavioural(folder=folder)
    assert [(c.answer_id, c.family, c.label) for c in cases] == [("e/1", "weak", 2)]
    assert cases[0].question.question_id == "communicating-bad-news"
    by_name = calibration.load_heldout_behavioural(folder=calibration.DEMOTED_HELDOUT)
    assert len(by_name) == 85
    with pytest.raises(FileNotFoundError, match="no calibration folder"):
        calibration.load_heldout_behavioural(folder="no-such-set")
