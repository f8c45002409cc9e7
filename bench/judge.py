"""Benchmark of scoring: the sandboxed code judge and the offline grader, in one run.

What is measured (no services, no network; everything in this process and its children):

(a) judged test cases per second: the reference solutions of `--questions` bank questions
    (services/interviews/src/interviews/bank/coding/*.json), Python and JavaScript, each run
    against all of its question's tests, `--concurrency` submissions at a time (default 2,
    ai-runner's JUDGE_CONCURRENCY), through `Judge(JudgeSettings())`: the bubblewrap
    sandbox. Every verdict must be `accepted`. The baseline is the same workload through the
    rlimit-only fallback (below): `--rounds` passes over the questions per mode, the two modes
    alternating pass by pass in the same run.
(b) the sandbox's overhead per run: one identical submission with one test (a question's
    first, small example), run one at a time `--runs` times per language and mode,
    alternating the two modes so both sample the same moments of the machine:
      sandboxed  `Judge(JudgeSettings())`: setpriv (when root) + bwrap + prlimit + the
                 interpreter, files passed as memfds;
      plain      `Judge(JudgeSettings(allow_unsandboxed=True, bwrap_path="/nonexistent"))`:
                 setpriv (when root) + prlimit + the interpreter, files in a temp dir: the same
                 harness with plain python3 / node and rlimits only.
    Each run is timed around `judge.run` (the judge's whole path: files, spawn, harness,
    verdicts, clean-up). Reported: mean, p50, p99 per mode and the difference sandboxed -
    plain per run, against the goal (bwrap adds <= 30 ms per run). For context, the bare
    start-up of the two command lines with `true` instead of an interpreter, as often.
(c) the offline grader (`OfflineGrader`, no network): every behavioural bank question's
    sample answer through `grade_behavioral` (plus `bound_behavioral`, as the AI runner
    scores), and every coding question's reference solutions (both languages) through
    `review_code` (with a judge summary of all tests passed: reference solutions pass), first
    each once (cold: the first behavioural answer also loads the embedding model from the
    wordllama wheel, ~0.3 s, and the grader memoises each question's embedding and key
    words), then cycling until `--answers` of each kind (warm). Reported: answers/s, and
    the sessions/s that follow for a default mixed session (2 coding + 2 behavioural
    answers), grading alone and with each coding answer's judge run at the rate of (a).

Run (bubblewrap, prlimit, /usr/bin/python3 and node must be installed)::

    cd /work/main && uv run python bench/judge.py
    uv run python bench/judge.py --runs 100 --rounds 5
    uv run python bench/judge.py --questions binary-search,coin-change --concurrency 4

Exit status: 0 when every part ran and every verdict was the expected one (whatever the
overhead; with `--enforce-goal`, 3 when the overhead is above the goal), 1 on a failure
(no sandbox, a missing interpreter, an unexpected verdict), 2 when `--deadline` seconds
(default 180) passed. Nothing is left behind: the judge removes its files and its
sandboxes die with their runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from _stats import BenchFailure, Dist

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# keep bench/ off the import path (its files are named like packages)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]

BANK = REPO / "services" / "interviews" / "src" / "interviews" / "bank"
DEFAULT_QUESTIONS = "binary-search,coin-change,group-anagrams,merge-intervals,number-of-islands"
LANGUAGES = ("python", "javascript")
GOAL_MS = 30.0
EXIT_FAILURE = 1
EXIT_TIMEOUT = 2
EXIT_GOAL = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchTimeout(Exception):
    pass


# ---------------------------------------------------------------------------------------
# figures


@dataclass
class Progress:
    phase: str = "starting"
    done: int = 0
    total: int = 0

    def describe(self) -> str:
        return f"{self.phase} ({self.done}/{self.total} done)" if self.total else self.phase


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, since boot)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def _own_cpu() -> float:
    """CPU seconds of this process and its reaped children (the sandboxes)."""
    me = os.times()
    return me.user + me.system + me.children_user + me.children_system


@dataclass
class Cpu:
    """Cores busy over a part: ours (this process and the runs) and everything else."""

    wall: float = 0.0
    ours: float = 0.0
    machine: float = 0.0
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> Cpu:
        self._start = (time.perf_counter(), _own_cpu(), _machine_busy())
        return self

    def __exit__(self, *_: object) -> None:
        t0, c0, m0 = self._start
        self.wall = time.perf_counter() - t0
        self.ours = _own_cpu() - c0
        self.machine = _machine_busy() - m0

    @property
    def other_cores(self) -> float:
        return max(0.0, self.machine - self.ours) / self.wall if self.wall else 0.0

    def render(self) -> str:
        return (
            f"over {self.wall:.1f} s: ours {self.ours / self.wall:.2f} cores, whole machine "
            f"{self.machine / self.wall:.2f} of {os.cpu_count()}, not ours {self.other_cores:.2f}"
        )


NOISY_CORES = 0.25


# ---------------------------------------------------------------------------------------
# the bank


@dataclass
class Coding:
    question: Any  # interviews.domain.questions.CodingQuestion
    snapshot: Any  # contracts CodingQuestionSnapshot


def load_bank() -> tuple[dict[str, Coding], list[tuple[Any, str]]]:
    """Coding questions by id, and (behavioural snapshot, sample answer) pairs."""
    from interviews.adapters.bank import load_seed

    coding: dict[str, Coding] = {}
    behavioural: list[tuple[Any, str]] = []
    for question in load_seed(BANK):
        if question.type == "coding":
            coding[question.id] = Coding(question, question.snapshot())
        else:
            behavioural.append((question.snapshot(), question.sample_answer))
    return coding, behavioural


# ---------------------------------------------------------------------------------------
# (a) throughput


@dataclass
class Throughput:
    runs: int = 0
    cases: int = 0
    wall: float = 0.0
    per_run_ms: list[float] = field(default_factory=list)
    cpu: Cpu = field(default_factory=Cpu)

    @property
    def cases_per_s(self) -> float:
        return self.cases / self.wall if self.wall else 0.0


async def run_workers(
    items: Sequence[Any], concurrency: int, job: Callable[[Any], Awaitable[None]]
) -> None:
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # a shared iterator is safe: the loop is single-threaded
            await job(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(items))):
            group.create_task(worker())


async def judge_all(judge: Any, coding: Coding, language: str) -> Any:
    q = coding.question
    return await judge.run(
        language=language,
        source=q.reference_solutions[language],
        function_name=q.function_name,
        tests=q.tests,
        comparison=q.comparison,
        time_limit_ms=q.time_limit_ms,
        memory_limit_mb=q.memory_limit_mb,
    )


def check_accepted(report: Any, what: str, sandboxed: bool) -> None:
    if report.sandboxed != sandboxed:
        raise BenchFailure(f"{what}: ran sandboxed={report.sandboxed}, expected {sandboxed}")
    bad = [f"{r.test_id}: {r.verdict} {r.detail or ''}".strip() for r in report.results]
    bad = [b for b, r in zip(bad, report.results, strict=True) if r.verdict != "accepted"]
    if report.compile_error or bad:
        raise BenchFailure(
            f"{what}: the reference solution was not accepted: "
            f"{report.compile_error or '; '.join(bad[:3])[:500]}"
        )


async def one_pass(
    judge: Any,
    questions: Sequence[Coding],
    language: str,
    concurrency: int,
    sandboxed: bool,
    into: Throughput,
    reports: dict[tuple[str, str], Any],
    progress: Progress,
) -> None:
    """Every question's reference solution against all its tests, `concurrency` at a time;
    added to `into` (wall time and CPU of the pass included)."""
    mode = "sandboxed" if sandboxed else "plain"

    async def job(coding: Coding) -> None:
        t0 = time.perf_counter()
        report = await judge_all(judge, coding, language)
        into.per_run_ms.append((time.perf_counter() - t0) * 1000)
        check_accepted(report, f"{coding.question.id} in {language} ({mode})", sandboxed)
        into.runs += 1
        into.cases += report.total
        if sandboxed:
            reports[(coding.question.id, language)] = report
        progress.done += 1

    with Cpu() as cpu:
        await run_workers(questions, concurrency, job)
    into.wall += cpu.wall
    into.cpu.wall += cpu.wall
    into.cpu.ours += cpu.ours
    into.cpu.machine += cpu.machine


async def throughput(
    judges: dict[bool, Any],
    questions: Sequence[Coding],
    language: str,
    rounds: int,
    concurrency: int,
    reports: dict[tuple[str, str], Any],
    progress: Progress,
) -> dict[bool, Throughput]:
    """`rounds` passes per mode, the modes alternating pass by pass (and which goes first),
    so both sample the same moments of the machine."""
    out = {True: Throughput(), False: Throughput()}
    progress.phase, progress.done = f"(a) {language}", 0
    progress.total = 2 * rounds * len(questions)
    for r in range(rounds):
        for sandboxed in (True, False) if r % 2 == 0 else (False, True):
            await one_pass(
                judges[sandboxed],
                questions,
                language,
                concurrency,
                sandboxed,
                out[sandboxed],
                reports,
                progress,
            )
    return out


# ---------------------------------------------------------------------------------------
# (b) overhead per run


@dataclass
class Overhead:
    sandboxed: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    bare_bwrap: list[float] = field(default_factory=list)
    bare_plain: list[float] = field(default_factory=list)
    cpu: Cpu = field(default_factory=Cpu)


async def one_test_run(judge: Any, coding: Coding, language: str, sandboxed: bool) -> float:
    q = coding.question
    t0 = time.perf_counter()
    report = await judge.run(
        language=language,
        source=q.reference_solutions[language],
        function_name=q.function_name,
        tests=q.tests[:1],
        comparison=q.comparison,
        time_limit_ms=q.time_limit_ms,
        memory_limit_mb=q.memory_limit_mb,
    )
    ms = (time.perf_counter() - t0) * 1000
    check_accepted(report, f"{q.id} test 1 in {language}", sandboxed)
    if report.total != 1:
        raise BenchFailure(f"expected one test, the judge ran {report.total}")
    return ms


def bare_command_lines() -> tuple[list[str], list[str]]:
    """The two command lines the judge starts, with `true` for the interpreter: setpriv
    (when root) + bwrap + prlimit + true, and setpriv (when root) + prlimit + true."""
    from codejudge import JudgeSettings
    from codejudge.sandbox import Sandbox

    sandbox = Sandbox(JudgeSettings())
    prlimit = sandbox.prlimit()
    bwrap = shutil.which("bwrap")
    true = shutil.which("true")
    if prlimit is None or bwrap is None or true is None:
        raise BenchFailure("bwrap, prlimit or true not found")
    drop = sandbox.drop_privileges_argv()
    limits = [prlimit, "--nofile=64", "--"]
    options = sandbox._bwrap_options(env={"PATH": "/usr/bin:/bin"}, binds=(), data={})
    return [*drop, bwrap, *options, *limits, true], [*drop, *limits, true]


async def spawn_ms(argv: list[str]) -> float:
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    _, err = await proc.communicate()
    ms = (time.perf_counter() - t0) * 1000
    if proc.returncode != 0:
        raise BenchFailure(f"{argv[0]} ... exited {proc.returncode}: {err.decode()[-300:]}")
    return ms


async def overhead(
    sandboxed_judge: Any,
    plain_judge: Any,
    coding: Coding,
    language: str,
    runs: int,
    warmup: int,
    progress: Progress,
) -> Overhead:
    result = Overhead()
    progress.phase, progress.done, progress.total = f"(b) {language}", 0, runs
    for _ in range(warmup):
        await one_test_run(sandboxed_judge, coding, language, True)
        await one_test_run(plain_judge, coding, language, False)
    with result.cpu:
        for i in range(runs):
            # alternate which mode goes first, so neither always follows the other
            order = ((sandboxed_judge, True), (plain_judge, False))
            for judge, sandboxed in order if i % 2 == 0 else order[::-1]:
                ms = await one_test_run(judge, coding, language, sandboxed)
                (result.sandboxed if sandboxed else result.plain).append(ms)
            progress.done += 1
    return result


async def bare_overhead(runs: int, progress: Progress) -> tuple[list[float], list[float]]:
    with_bwrap, without = bare_command_lines()
    progress.phase, progress.done, progress.total = "(b) bare start-up with true", 0, runs
    bwrap_ms: list[float] = []
    plain_ms: list[float] = []
    for _ in range(3):
        await spawn_ms(with_bwrap)
        await spawn_ms(without)
    for i in range(runs):
        pair = ((with_bwrap, bwrap_ms), (without, plain_ms))
        for argv, into in pair if i % 2 == 0 else pair[::-1]:
            into.append(await spawn_ms(argv))
        progress.done += 1
    return bwrap_ms, plain_ms


# ---------------------------------------------------------------------------------------
# (c) the offline grader


@dataclass
class Grading:
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    warm_wall: float = 0.0
    cpu: Cpu = field(default_factory=Cpu)

    @property
    def warm_per_s(self) -> float:
        return len(self.warm_ms) / self.warm_wall if self.warm_wall else 0.0


async def grade(
    coding: dict[str, Coding],
    behavioural: list[tuple[Any, str]],
    reports: dict[tuple[str, str], Any],
    answers: int,
    progress: Progress,
) -> tuple[Grading, Grading]:
    from ai_runner.adapters.offline_grader import OfflineGrader
    from ai_runner.app.ports import JudgeSummary
    from ai_runner.domain.guard import bound_behavioral, bound_code
    from contracts.events import Answer

    grader = OfflineGrader()

    async def grade_one(item: tuple[Any, str]) -> None:
        question, answer = item
        graded, _ = await grader.grade_behavioral(question, answer)
        weights = {r.dimension: r.weight for r in question.rubric}
        result = bound_behavioral(graded, answer, weights)
        if not 0 <= result.score <= 100 or not result.dimensions:
            raise BenchFailure(f"grading {question.question_id} gave {result.score}")

    reviews: list[tuple[Any, Any, Any]] = []
    for qid, c in coding.items():
        for language in LANGUAGES:
            report = reports.get((qid, language))
            if report is not None:  # judged in (a): its real summary
                verdicts: dict[str, int] = {}
                for r in report.results:
                    verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
                summary = JudgeSummary(
                    passed=report.passed,
                    total=report.total,
                    score=report.score,
                    compile_error=report.compile_error,
                    verdicts=verdicts,
                )
            else:  # reference solutions pass their tests (the bank checks it when seeding)
                n = len(c.question.tests)
                summary = JudgeSummary(
                    passed=n, total=n, score=1.0, compile_error=None, verdicts={"accepted": n}
                )
            answer = Answer(
                question_id=qid,
                response=c.question.reference_solutions[language],
                language=language,
            )
            reviews.append((c.snapshot, answer, summary))

    async def review_one(item: tuple[Any, Any, Any]) -> None:
        question, answer, summary = item
        reviewed, _ = await grader.review_code(question, answer, summary)
        result = bound_code(reviewed, summary.score, summary.verdicts)
        if not 0 <= result.score <= 100 or not result.dimensions:
            raise BenchFailure(f"reviewing {question.question_id} gave {result.score}")

    out: list[Grading] = []
    kinds: list[tuple[str, Sequence[Any], Callable[[Any], Awaitable[None]]]] = [
        ("behavioural answers", behavioural, grade_one),
        ("code reviews", reviews, review_one),
    ]
    for label, items, call in kinds:
        g = Grading()
        progress.phase, progress.done, progress.total = f"(c) {label}, cold", 0, len(items)
        for item in items:
            t0 = time.perf_counter_ns()
            await call(item)
            g.cold_ms.append((time.perf_counter_ns() - t0) / 1e6)
            progress.done += 1
        progress.phase, progress.done, progress.total = f"(c) {label}, warm", 0, answers
        with g.cpu:
            t_start = time.perf_counter()
            for i in range(answers):
                t0 = time.perf_counter_ns()
                await call(items[i % len(items)])
                g.warm_ms.append((time.perf_counter_ns() - t0) / 1e6)
                progress.done += 1
                if i % 50 == 0:
                    await asyncio.sleep(0)  # let the deadline's timeout fire
            g.warm_wall = time.perf_counter() - t_start
        out.append(g)
    return out[0], out[1]


# ---------------------------------------------------------------------------------------
# the run


@dataclass
class Results:
    questions: list[str]
    tests: int
    thru: dict[tuple[str, bool], Throughput] = field(default_factory=dict)
    over: dict[str, Overhead] = field(default_factory=dict)
    over_question: str = ""
    bare: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    behavioural: Grading | None = None
    reviews: Grading | None = None
    behavioural_count: int = 0
    review_count: int = 0


async def measure(args: argparse.Namespace, progress: Progress) -> Results:
    from codejudge import Judge, JudgeSettings

    progress.phase = "loading the bank"
    coding, behavioural = load_bank()
    wanted = [q.strip() for q in args.questions.split(",") if q.strip()]
    missing = [q for q in wanted if q not in coding]
    if missing:
        raise BenchFailure(
            f"no coding question {', '.join(missing)} in the bank; have {', '.join(coding)}"
        )
    chosen = [coding[q] for q in wanted]
    res = Results(wanted, sum(len(c.question.tests) for c in chosen))

    sandboxed = Judge(JudgeSettings(max_concurrency=args.concurrency))
    plain = Judge(
        JudgeSettings(
            max_concurrency=args.concurrency, allow_unsandboxed=True, bwrap_path="/nonexistent"
        )
    )
    progress.phase = "probing the sandbox"
    if not await asyncio.to_thread(sandboxed.sandbox_available):
        raise BenchFailure(f"the sandbox is not available: {sandboxed.sandbox_unavailable_reason}")
    if await asyncio.to_thread(plain.sandbox_available):
        raise BenchFailure("the plain judge found a sandbox: bwrap_path is not honoured")

    # warm both paths (interpreters' files in the page cache, the judge's runtimes resolved)
    progress.phase = "warm-up"
    for language in LANGUAGES:
        for judge, is_sandboxed in ((sandboxed, True), (plain, False)):
            check_accepted(
                await judge_all(judge, chosen[0], language), f"warm-up {language}", is_sandboxed
            )

    # (a)
    reports: dict[tuple[str, str], Any] = {}
    for language in LANGUAGES:
        by_mode = await throughput(
            {True: sandboxed, False: plain},
            chosen,
            language,
            args.rounds,
            args.concurrency,
            reports,
            progress,
        )
        for is_sandboxed, thru in by_mode.items():
            res.thru[(language, is_sandboxed)] = thru

    # (b)
    one = coding[args.overhead_question] if args.overhead_question in coding else chosen[0]
    res.over_question = one.question.id
    for language in LANGUAGES:
        res.over[language] = await overhead(
            Judge(JudgeSettings(max_concurrency=1)),
            Judge(
                JudgeSettings(max_concurrency=1, allow_unsandboxed=True, bwrap_path="/nonexistent")
            ),
            one,
            language,
            args.runs,
            3,
            progress,
        )
    res.bare = await bare_overhead(args.runs, progress)

    # (c)
    res.behavioural_count = len(behavioural)
    res.review_count = 2 * len(coding)
    res.behavioural, res.reviews = await grade(coding, behavioural, reports, args.answers, progress)
    return res


# ---------------------------------------------------------------------------------------
# reporting


def dist_cols(d: Dist) -> str:
    return f"{d.n:>6}{d.mean:>9.2f}{d.p50:>9.2f}{d.p99:>9.2f}{d.max:>9.1f}"


def noisy(cpu: Cpu, what: str) -> None:
    if cpu.other_cores > NOISY_CORES:
        print(
            f"   WARNING: other load on the machine during {what} ({cpu.other_cores:.2f} cores "
            "not ours): rates low, latencies high"
        )


def report(args: argparse.Namespace, res: Results) -> bool:
    """Print everything; whether the overhead goal was met for every language."""
    print()
    print(
        f"== (a) judged test cases per second: reference solutions of {len(res.questions)} "
        f"questions ({', '.join(res.questions)}; {res.tests} tests), all tests per run, "
        f"{args.rounds} passes per mode (modes alternating pass by pass), "
        f"concurrency {args.concurrency}"
    )
    print(
        f"  {'':<22}{'runs':>6}{'cases':>7}{'wall s':>8}{'cases/s':>9}{'runs/s':>8}"
        f"{'run p50 ms':>12}{'run p99 ms':>12}"
    )
    for language in LANGUAGES:
        for is_sandboxed in (True, False):
            t = res.thru[(language, is_sandboxed)]
            d = Dist.of(t.per_run_ms)
            label = f"{language} {'sandboxed' if is_sandboxed else 'plain'}"
            print(
                f"  {label:<22}{t.runs:>6}{t.cases:>7}{t.wall:>8.2f}{t.cases_per_s:>9.1f}"
                f"{t.runs / t.wall:>8.2f}{d.p50:>12.1f}{d.p99:>12.1f}"
            )
        ts, tp = res.thru[(language, True)], res.thru[(language, False)]
        print(
            f"  {language}: sandboxed at {ts.cases_per_s / tp.cases_per_s:.1%} of plain in "
            f"cases/s; cpu sandboxed {ts.cpu.render()}"
        )
        noisy(ts.cpu, f"{language} sandboxed")
        noisy(tp.cpu, f"{language} plain")

    print()
    print(
        f"== (b) the sandbox's overhead per run: {res.over_question}'s reference solution, one "
        f"test, one run at a time, {args.runs} runs per mode, modes alternating"
    )
    print(f"  {'ms per run':<34}{'n':>6}{'mean':>9}{'p50':>9}{'p99':>9}{'max':>9}")
    met = True
    for language in LANGUAGES:
        o = res.over[language]
        s, p = Dist.of(o.sandboxed), Dist.of(o.plain)
        print(f"  {language + ' sandboxed (bwrap)':<34}{dist_cols(s)}")
        print(f"  {language + ' plain (rlimits only)':<34}{dist_cols(p)}")
        diff_mean, diff_p50 = s.mean - p.mean, s.p50 - p.p50
        ok = diff_mean <= GOAL_MS and diff_p50 <= GOAL_MS
        met = met and ok
        print(
            f"  {language}: bwrap adds {diff_mean:+.1f} ms per run on the mean, "
            f"{diff_p50:+.1f} ms at p50, {s.p99 - p.p99:+.1f} ms at p99 "
            f"(goal <= {GOAL_MS:g} ms: {'met' if ok else 'NOT met'}); {o.cpu.render()}"
        )
        noisy(o.cpu, f"the {language} runs")
    bw, pl = Dist.of(res.bare[0]), Dist.of(res.bare[1])
    print(f"  {'bare: bwrap + prlimit + true':<34}{dist_cols(bw)}")
    print(f"  {'bare: prlimit + true':<34}{dist_cols(pl)}")
    root = " (both behind setpriv: running as root)" if os.geteuid() == 0 else ""
    print(
        f"  bare start-up difference: {bw.mean - pl.mean:+.1f} ms mean, {bw.p50 - pl.p50:+.1f} "
        f"ms p50{root}: bwrap's own namespaces and mounts, without an interpreter"
    )

    assert res.behavioural is not None and res.reviews is not None
    b, r = res.behavioural, res.reviews
    print()
    print("== (c) the offline grader, no network, one task (one core at most)")
    print(f"  {'ms per answer':<42}{'n':>6}{'mean':>9}{'p50':>9}{'p99':>9}{'max':>9}{'per s':>9}")
    rows = (
        (f"behavioural, cold (each of {res.behavioural_count} once)", b.cold_ms, None),
        ("behavioural, warm (cycling)", b.warm_ms, b.warm_per_s),
        (f"code review, cold (each of {res.review_count} once)", r.cold_ms, None),
        ("code review, warm (cycling)", r.warm_ms, r.warm_per_s),
    )
    for label, values, rate in rows:
        d = Dist.of(values)
        rate_s = f"{rate:>9.1f}" if rate is not None else f"{1000 / d.mean:>9.1f}"
        print(f"  {label:<42}{dist_cols(d)}{rate_s}")
    noisy(b.cpu, "the warm behavioural answers")
    noisy(r.cpu, "the warm code reviews")
    t_b, t_r = Dist.of(b.warm_ms).mean, Dist.of(r.warm_ms).mean
    per_session_ms = 2 * t_b + 2 * t_r
    judge_runs_per_s = sum(res.thru[(lang, True)].runs for lang in LANGUAGES) / sum(
        res.thru[(lang, True)].wall for lang in LANGUAGES
    )
    print(
        f"  answers/s (warm): behavioural {b.warm_per_s:.1f}, code reviews {r.warm_per_s:.1f}; "
        f"a mixed session (2 coding + 2 behavioural answers) takes {per_session_ms:.1f} ms of "
        f"grading: {1000 / per_session_ms:.1f} sessions/s on one core, grading alone"
    )
    judged_cap = judge_runs_per_s / 2
    sandboxed_runs = [res.thru[(lang, True)] for lang in LANGUAGES]
    judge_cores = sum(t.cpu.ours for t in sandboxed_runs) / sum(t.cpu.wall for t in sandboxed_runs)
    pace = (
        "the judge, not the grader, sets the pace"
        if judged_cap < 1000 / per_session_ms
        else "the grader, not the judge, sets the pace"
    )
    print(
        f"  with the judge: (a) ran {judge_runs_per_s:.2f} sandboxed judge runs/s (all tests, "
        f"concurrency {args.concurrency}, both languages, on ~{judge_cores:.1f} cores); two "
        f"per mixed session cap scoring at {judged_cap:.2f} sessions/s: {pace}"
    )
    return met


def describe_machine(args: argparse.Namespace) -> None:
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "?"

    load = os.getloadavg()
    print("== machine and settings")
    print(
        f"nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; bench python {platform.python_version()}, "
        f"judged: {version(['/usr/bin/python3', '--version'])}, node "
        f"{version(['node', '--version'])}, {version(['bwrap', '--version'])}; "
        f"running as {'root (bwrap started as uid 65534)' if os.geteuid() == 0 else 'non-root'}"
    )


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: Iterable[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--questions", default=DEFAULT_QUESTIONS, help="comma-separated coding question ids")
    add("--rounds", type=int, default=10, help="(a) passes over the questions per mode")
    add("--concurrency", type=int, default=2, help="(a) submissions at a time")
    add("--runs", type=int, default=200, help="(b) one-test runs per language and mode")
    add(
        "--overhead-question",
        default="binary-search",
        help="(b) the question whose first test is run",
    )
    add("--answers", type=int, default=2000, help="(c) warm answers graded per kind")
    add("--deadline", type=float, default=180.0, help="seconds for everything")
    add("--enforce-goal", action="store_true", help=f"exit {EXIT_GOAL} if bwrap adds > 30 ms")
    args = parser.parse_args(list(argv))
    if min(args.rounds, args.concurrency, args.runs, args.answers) < 1:
        parser.error("--rounds, --concurrency, --runs and --answers must be at least 1")
    return args


def main(argv: Iterable[str]) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    progress = Progress()

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        # the event loop did not stop at the deadline (a run that ignores cancellation):
        # the judge's sandboxes die with this process (--die-with-parent)
        print(
            f"\nbench: TIMEOUT: hard deadline passed during {progress.describe()}",
            file=sys.stderr,
        )
        os._exit(EXIT_TIMEOUT)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.setitimer(signal.ITIMER_REAL, args.deadline + 30)
    status = 0
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("codejudge-*"))
    try:
        describe_machine(args)
        for tool in ("bwrap", "prlimit", "node"):
            if shutil.which(tool) is None:
                raise BenchFailure(f"{tool} is not installed")
        if not Path("/usr/bin/python3").exists():
            raise BenchFailure("/usr/bin/python3 is not installed (the judge runs Python on it)")

        async def bounded() -> Results:
            try:
                async with asyncio.timeout(args.deadline - (time.monotonic() - began)):
                    return await measure(args, progress)
            except TimeoutError as exc:
                raise BenchTimeout(progress.describe()) from exc

        results = asyncio.run(bounded())
        met = report(args, results)
        print(f"\ntotal run time {time.monotonic() - began:.1f} s")
        if args.enforce_goal and not met:
            status = EXIT_GOAL
    except BenchTimeout as exc:
        print(
            f"\nbench: TIMEOUT: --deadline {args.deadline:g}s passed during {exc}",
            file=sys.stderr,
        )
        status = EXIT_TIMEOUT
    except BenchFailure as exc:
        print(f"\nbench: FAILED during {progress.describe()}: {exc}", file=sys.stderr)
        status = EXIT_FAILURE
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        status = EXIT_FAILURE
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        with contextlib.suppress(OSError):
            left = set(temp.glob("codejudge-*")) - before
            if left:
                print(
                    f"warning: {len(left)} new codejudge-* dirs in {temp} after the run "
                    "(the judge should remove its own; another process may have made them)",
                    file=sys.stderr,
                )
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
