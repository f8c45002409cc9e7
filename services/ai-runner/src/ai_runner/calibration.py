"""How far the offline grader's scores can be trusted, measured on labelled sets.

- The tuning set (`tests/calibration/*.json`): the answers the grader was tuned on.
- The old held-out set (`tests/calibration/heldout/`, `DEMOTED_HELDOUT`): written and
  labelled by someone who never read the grader, but its misses were printed and discussed,
  so on 2026-12-03 it was demoted to tuning data (see its README). Its figures are tuning
  figures now.
- A held-out set proper lives in a folder of its own beside them (`heldout2`, written by
  someone else and measured once, by the lead): `load_heldout_behavioural(folder=...)` and
  `load_heldout_coding(judge, folder=...)` read any such folder by name, in the held-out
  format (questions from the interviews bank, see the old set's README).

Each answer goes through what the AI runner does with it: an answer that says too little to
score (empty, garbled, not English) gets the verdict `insufficient` and counts 0
(`ai_runner.domain.sufficiency`); the rest are graded by the offline grader and bounded by
the guard. Held-out-format coding solutions are first run through the real judge
(`codejudge`, in its sandbox) with the bank question's tests, and the grader gets that judge
summary.

Printed per set: Spearman's rho between scores and labels, pairwise order accuracy within
each question (pairs with different labels; a tie counts half) overall and per question,
the mean per family, and the issue's bars family by family. Run from the repository root::

    uv run python -m ai_runner.calibration                     # both tuning sets (bwrap)
    uv run python -m ai_runner.calibration --tuning            # the first tuning set only
    uv run python -m ai_runner.calibration --heldout heldout2  # a held-out folder, by name
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.events import (
    Answer,
    AnswerResult,
    BehavioralQuestionSnapshot,
    CodingQuestionSnapshot,
)

from ai_runner.adapters.offline_grader import grade_behavioral_answer, review_code_answer
from ai_runner.app.ports import JudgeSummary
from ai_runner.domain.guard import bound_code
from ai_runner.domain.sufficiency import insufficient_reason

SERVICE = Path(__file__).resolve().parents[2]
TUNING = SERVICE / "tests" / "calibration"
# the old held-out set, demoted to tuning data on 2026-12-03 (its results had been read)
DEMOTED_HELDOUT = "heldout"
BANK = SERVICE.parent / "interviews" / "src" / "interviews" / "bank"

# the bars
SPEARMAN_BAR = 0.8
NATURAL_STRONG_FLOOR = 65
FILLER_CEILING = 50
OFF_TOPIC_GAP = 20
INJECTED_MARGIN = 5
LOOKALIKE_TOLERANCE = 10  # "not penalised": within this of its label's family average

TUNING_RANK = {
    "strong": 4,
    "mediocre": 3,
    "weak": 2,
    "filler": 1,
    "off_topic": 1,
    "injected": 1,
    "empty": 0,
    "insufficient": 0,
}
# the held-out README's rule for a strong story told "naturally"
STAR_TEMPLATE = re.compile(
    r"\b(?:situation|task|action|result|reflection)\s*:|\bmy task was\b|\bas a result\b|"
    r"\bthe result was\b",
    re.IGNORECASE,
)
STRONG = ("strong_natural", "strong_star")
NOT_ANSWERABLE = ("non_english", "gibberish", "empty")
CODING_ORDER = ("correct", "brute_force", "wrong", "infinite_loop")


@dataclass(frozen=True)
class Case:
    answer_id: str
    family: str
    label: int  # 0..4, higher is better
    question: BehavioralQuestionSnapshot | CodingQuestionSnapshot
    text: str
    language: str | None = None
    judge: JudgeSummary | None = None
    same_story_as: str | None = None
    based_on: str | None = None


@dataclass(frozen=True)
class Graded:
    case: Case
    score: int
    verdict: str  # "scored" or "insufficient"
    result: AnswerResult | None


@dataclass
class Check:
    family: str
    bar: str
    passed: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, ok: bool, what: str) -> None:
        self.total += 1
        self.passed += ok
        if not ok:
            self.misses.append(what)

    @property
    def met(self) -> bool:
        return self.total > 0 and self.passed == self.total


@dataclass
class Figures:
    name: str
    n: int
    spearman: float
    pairwise: float  # share of within-question pairs in label order
    pairwise_by_question: dict[str, float]
    family_means: dict[str, float]
    checks: list[Check]

    def check(self, family: str) -> Check:
        return next(c for c in self.checks if c.family == family)


# ---------------------------------------------------------------------------
# loading


def behavioural_snapshot(doc: dict[str, Any]) -> BehavioralQuestionSnapshot:
    """A bank question as the grader receives it."""
    return BehavioralQuestionSnapshot.model_validate(
        {
            "question_id": doc["id"],
            "version": doc.get("version", 1),
            "title": doc["title"],
            "prompt": doc["prompt"],
            "difficulty": doc.get("difficulty", "medium"),
            "tags": doc.get("tags", []),
            "competencies": doc.get("competencies", []),
            "rubric": doc["rubric"],
            "follow_ups": doc.get("follow_ups", []),
        }
    )


def coding_snapshot(doc: dict[str, Any]) -> CodingQuestionSnapshot:
    keys = (
        "version title prompt difficulty tags function_name signatures tests comparison "
        "time_limit_ms memory_limit_mb rubric optimal_complexity"
    ).split()
    return CodingQuestionSnapshot.model_validate(
        {"question_id": doc["id"], **{k: doc[k] for k in keys if k in doc}}
    )


def _tuning_family(answer: dict[str, Any], kind: str) -> str:
    if "family" in answer:
        return str(answer["family"])
    if kind == "behavioral" and answer["label"] == "strong":
        return "strong_star" if STAR_TEMPLATE.search(answer["response"]) else "strong_natural"
    return str(answer["label"])


def load_tuning(directory: Path = TUNING) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text())
        question: BehavioralQuestionSnapshot | CodingQuestionSnapshot
        if doc["kind"] == "behavioral":
            question = BehavioralQuestionSnapshot.model_validate(doc["question"])
        else:
            question = CodingQuestionSnapshot.model_validate(doc["question"])
        for a in doc["answers"]:
            cases.append(
                Case(
                    answer_id=a["id"],
                    family=_tuning_family(a, doc["kind"]),
                    label=a["rank_label"],
                    question=question,
                    text=a["response"],
                    language=a.get("language"),
                    judge=JudgeSummary(**a["judge"]) if "judge" in a else None,
                    same_story_as=a.get("same_story_as"),
                    based_on=a.get("based_on"),
                )
            )
    return cases


def heldout_directory(folder: str | Path) -> Path:
    """A set in the held-out format: a folder name under tests/calibration, or a path."""
    path = Path(folder)
    directory = path if path.is_absolute() else TUNING / path
    if not directory.is_dir():
        raise FileNotFoundError(f"no calibration folder {directory}")
    return directory


def load_heldout_behavioural(folder: str | Path = DEMOTED_HELDOUT, bank: Path = BANK) -> list[Case]:
    """The behavioural answers of a set in the held-out format (`folder`: its name under
    tests/calibration, or a path), each with its question from the interviews bank."""
    cases: list[Case] = []
    for path in sorted(heldout_directory(folder).glob("behavioral-*.json")):
        doc = json.loads(path.read_text())
        question = behavioural_snapshot(
            json.loads((bank / "behavioral" / f"{doc['question_id']}.json").read_text())
        )
        for a in doc["answers"]:
            cases.append(
                Case(
                    answer_id=a["id"],
                    family=a["family"],
                    label=a["label"],
                    question=question,
                    text=a["text"],
                    same_story_as=a.get("same_story_as"),
                    based_on=a.get("based_on"),
                )
            )
    return cases


async def judge_summary(judge: Any, question: CodingQuestionSnapshot, case: Case) -> JudgeSummary:
    """What the AI runner's judge step tells the grader about `case`'s code."""
    report = await judge.run(
        language=case.language or "python",
        source=case.text,
        function_name=question.function_name,
        tests=question.tests,
        comparison=question.comparison,
        time_limit_ms=question.time_limit_ms,
        memory_limit_mb=question.memory_limit_mb,
    )
    verdicts: dict[str, int] = {}
    for r in report.results:
        verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
    return JudgeSummary(
        passed=report.passed,
        total=report.total,
        score=report.score,
        compile_error=report.compile_error,
        verdicts=verdicts,
    )


def _heldout_solutions(directory: Path, bank: Path) -> list[Case]:
    pending: list[Case] = []
    for path in sorted(directory.glob("coding-*.json")):
        doc = json.loads(path.read_text())
        question = coding_snapshot(
            json.loads((bank / "coding" / f"{doc['question_id']}.json").read_text())
        )
        for a in doc["answers"]:
            pending.append(
                Case(
                    answer_id=a["id"],
                    family=a["family"],
                    label=a["label"],
                    question=question,
                    text=a["code"],
                    language=a.get("language", doc.get("language", "python")),
                )
            )
    return pending


async def load_heldout_coding(
    judge: Any, folder: str | Path = DEMOTED_HELDOUT, bank: Path = BANK
) -> list[Case]:
    """The coding solutions of a set in the held-out format (`folder` as for
    `load_heldout_behavioural`), each with the summary of its run through `judge`."""
    directory = heldout_directory(folder)
    pending = await asyncio.to_thread(_heldout_solutions, directory, bank)

    async def judged(case: Case) -> Case:
        assert isinstance(case.question, CodingQuestionSnapshot)
        summary = await judge_summary(judge, case.question, case)
        return Case(**{**case.__dict__, "judge": summary})

    return list(await asyncio.gather(*(judged(c) for c in pending)))


# ---------------------------------------------------------------------------
# grading


def grade(case: Case) -> Graded:
    """What the AI runner records for the answer: insufficient (0), or the bounded grade."""
    coding = isinstance(case.question, CodingQuestionSnapshot)
    if insufficient_reason(case.text, coding=coding) is not None:
        return Graded(case, 0, "insufficient", None)
    if isinstance(case.question, BehavioralQuestionSnapshot):
        result = grade_behavioral_answer(case.question, case.text)
    else:
        assert case.judge is not None
        answer = Answer(
            question_id=case.question.question_id, response=case.text, language=case.language
        )
        result = bound_code(
            review_code_answer(case.question, answer, case.judge),
            case.judge.score,
            case.judge.verdicts,
        )
    return Graded(case, result.score, "scored", result)


def grade_all(cases: Iterable[Case]) -> list[Graded]:
    return [grade(c) for c in cases]


# ---------------------------------------------------------------------------
# figures


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rho: Pearson correlation of the average ranks (handles ties)."""
    rx, ry = average_ranks(xs), average_ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx and vy else 0.0


def pairwise_accuracy(graded: Sequence[Graded]) -> tuple[float, dict[str, float]]:
    """Within each question, the share of pairs with different labels whose scores are in
    the same order (a tie counts half); overall over all such pairs."""
    by_question: dict[str, list[Graded]] = {}
    for g in graded:
        by_question.setdefault(g.case.question.question_id, []).append(g)
    total = right = 0.0
    per: dict[str, float] = {}
    for qid, items in sorted(by_question.items()):
        q_total = q_right = 0.0
        for i, a in enumerate(items):
            for b in items[i + 1 :]:
                if a.case.label == b.case.label:
                    continue
                hi, lo = (a, b) if a.case.label > b.case.label else (b, a)
                q_total += 1
                q_right += 1.0 if hi.score > lo.score else 0.5 if hi.score == lo.score else 0.0
        if q_total:
            per[qid] = q_right / q_total
        total += q_total
        right += q_right
    return (right / total if total else 0.0), per


def _family_mean(graded: Sequence[Graded], families: Iterable[str]) -> float | None:
    wanted = set(families)
    scores = [g.score for g in graded if g.case.family in wanted]
    return statistics.fmean(scores) if scores else None


def behavioural_checks(graded: Sequence[Graded]) -> list[Check]:
    by_id = {g.case.answer_id: g for g in graded}
    natural = Check("strong_natural", f">= {NATURAL_STRONG_FLOOR}")
    filler = Check("filler", f"<= {FILLER_CEILING}")
    off_topic = Check("off_topic", f"<= the same story on its own question - {OFF_TOPIC_GAP}")
    injected = Check("injected", f"<= its weak base + {INJECTED_MARGIN}")
    lookalike = Check("honest_lookalike", f">= its label's family average - {LOOKALIKE_TOLERANCE}")
    unanswerable = Check("not answerable", "verdict insufficient")
    strong_mean = _family_mean(graded, STRONG)
    mediocre_mean = _family_mean(graded, ("mediocre",))
    for g in graded:
        c, s = g.case, g.score
        if c.family == "strong_natural":
            natural.add(s >= NATURAL_STRONG_FLOOR, f"{c.answer_id} {s}")
        elif c.family == "filler":
            filler.add(s <= FILLER_CEILING, f"{c.answer_id} {s}")
        elif c.family == "off_topic" and c.same_story_as in by_id:
            own = by_id[c.same_story_as].score
            off_topic.add(s <= own - OFF_TOPIC_GAP, f"{c.answer_id} {s} vs own {own}")
        elif c.family == "injected" and c.based_on in by_id:
            base = by_id[c.based_on].score
            injected.add(s <= base + INJECTED_MARGIN, f"{c.answer_id} {s} vs base {base}")
        elif c.family == "honest_lookalike":
            mean = strong_mean if c.label >= 4 else mediocre_mean
            if mean is not None:
                ok = g.verdict == "scored" and s >= mean - LOOKALIKE_TOLERANCE
                lookalike.add(ok, f"{c.answer_id} {s} vs family mean {mean:.1f}")
        if c.family in NOT_ANSWERABLE:
            unanswerable.add(g.verdict == "insufficient", f"{c.answer_id} {g.verdict} {s}")
    return [natural, filler, off_topic, injected, lookalike, unanswerable]


def coding_checks(graded: Sequence[Graded]) -> list[Check]:
    order = Check("coding order", " > ".join(CODING_ORDER))
    wrong_name = Check("wrong_name", "says which function name the tests call")
    timed_out = Check("time_limit_exceeded", "never said to meet the complexity target")
    by_question: dict[str, dict[str, int]] = {}
    for g in graded:
        c = g.case
        assert isinstance(c.question, CodingQuestionSnapshot)
        by_question.setdefault(c.question.question_id, {})[c.family] = g.score
        if c.family == "wrong_name" and g.result is not None:
            name = c.question.function_name
            said = any(name in i for i in g.result.improvements)
            wrong_name.add(said, f"{c.answer_id}: {g.result.improvements[:1]}")
        if c.judge is not None and c.judge.verdicts.get("time_limit_exceeded") and g.result:
            comments = " ".join(d.comment for d in g.result.dimensions)
            timed_out.add("meets" not in comments, f"{c.answer_id}: {comments}")
    for qid, fam in sorted(by_question.items()):
        present = [f for f in CODING_ORDER if f in fam]
        if len(present) < 2:
            continue
        ok = all(fam[a] > fam[b] for a, b in itertools.pairwise(present))
        order.add(ok, f"{qid}: " + ", ".join(f"{f} {fam[f]}" for f in present))
    return [c for c in (order, wrong_name, timed_out) if c.total]


def figures(
    name: str, graded: Sequence[Graded], checks: Callable[[Sequence[Graded]], list[Check]]
) -> Figures:
    rho = spearman([g.score for g in graded], [g.case.label for g in graded])
    pairwise, per = pairwise_accuracy(graded)
    families: dict[str, list[int]] = {}
    for g in graded:
        families.setdefault(g.case.family, []).append(g.score)
    means = {f: statistics.fmean(v) for f, v in sorted(families.items())}
    return Figures(name, len(graded), rho, pairwise, per, means, checks(graded))


def split_kinds(graded: Sequence[Graded]) -> tuple[list[Graded], list[Graded]]:
    behavioural = [g for g in graded if isinstance(g.case.question, BehavioralQuestionSnapshot)]
    coding = [g for g in graded if isinstance(g.case.question, CodingQuestionSnapshot)]
    return behavioural, coding


def render(f: Figures) -> str:
    lines = [
        f"== {f.name}: n={f.n}, Spearman rho {f.spearman:.3f} (bar {SPEARMAN_BAR}), "
        f"pairwise order within questions {f.pairwise:.1%}",
        "   per question: "
        + ", ".join(f"{q} {v:.0%}" for q, v in sorted(f.pairwise_by_question.items())),
        "   family means: " + ", ".join(f"{k} {v:.1f}" for k, v in f.family_means.items()),
    ]
    for c in f.checks:
        if not c.total:
            lines.append(f"   {c.family:<20} {c.bar}: nothing to check in this set")
            continue
        mark = "met" if c.met else "MISSED"
        lines.append(f"   {c.family:<20} {c.bar}: {c.passed}/{c.total} {mark}")
        lines += [f"      miss: {m}" for m in c.misses]
    return "\n".join(lines)


# ---------------------------------------------------------------------------


async def _heldout_coding(folder: str | Path) -> list[Case]:
    from codejudge import Judge, JudgeSettings

    judge = Judge(JudgeSettings(max_concurrency=2))
    if not await asyncio.to_thread(judge.sandbox_available):
        raise SystemExit(f"no sandbox for the judge: {judge.sandbox_unavailable_reason}")
    return await load_heldout_coding(judge, folder)


def _print_heldout_format(name: str, folder: str | Path) -> None:
    behavioural = grade_all(load_heldout_behavioural(folder))
    if behavioural:
        print(render(figures(f"{name}, behavioural", behavioural, behavioural_checks)))
    if any(heldout_directory(folder).glob("coding-*.json")):
        coding = grade_all(asyncio.run(_heldout_coding(folder)))
        print(render(figures(f"{name}, coding", coding, coding_checks)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tuning", action="store_true", help="the first tuning set only")
    parser.add_argument(
        "--heldout", metavar="FOLDER", help="only this held-out folder (name or path)"
    )
    args = parser.parse_args(argv)
    if args.heldout:
        try:
            heldout_directory(args.heldout)
        except FileNotFoundError as missing:
            raise SystemExit(str(missing)) from None
        _print_heldout_format(f"held-out set {args.heldout}", args.heldout)
        return 0
    behavioural, coding = split_kinds(grade_all(load_tuning()))
    print(render(figures("tuning set, behavioural", behavioural, behavioural_checks)))
    print(render(figures("tuning set, coding", coding, coding_checks)))
    if not args.tuning:
        _print_heldout_format("tuning set 2 (the old held-out set)", DEMOTED_HELDOUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
