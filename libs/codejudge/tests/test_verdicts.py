"""Verdicts a candidate sees for ordinary submissions, in both languages, on the real sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from codejudge import Judge, JudgeReport
from contracts.events import HiddenTest


def case(
    test_id: str, args: list[Any], expected: Any, *, visible: bool = True, weight: float = 1.0
) -> HiddenTest:
    return HiddenTest(
        test_id=test_id, input=args, expected=expected, visible=visible, weight=weight
    )


TWO_SUM_TESTS = [
    case("example", [[2, 7, 11, 15], 9], [0, 1]),
    case("middle", [[3, 2, 4], 6], [1, 2], visible=False),
    case("same", [[3, 3], 6], [0, 1], visible=False, weight=2.0),
]

TWO_SUM = {
    "python": """
def two_sum(nums, target):
    seen = {}
    print("debug output is allowed")
    for i, n in enumerate(nums):
        if target - n in seen:
            return [seen[target - n], i]
        seen[n] = i
""",
    "javascript": """
function two_sum(nums, target) {
  const seen = new Map();
  console.log('debug output is allowed');
  for (let i = 0; i < nums.length; i++) {
    if (seen.has(target - nums[i])) return [seen.get(target - nums[i]), i];
    seen.set(nums[i], i);
  }
}
""",
}

WRONG = {
    "python": "def two_sum(nums, target):\n    return [0, 1]\n",
    "javascript": "const two_sum = (nums, target) => [0, 1];\n",
}

THROWS = {
    "python": """
def helper(nums):
    return nums[99]

def two_sum(nums, target):
    return helper(nums)
""",
    "javascript": """
function helper(nums) { return nums[99].value; }
function two_sum(nums, target) { return helper(nums); }
""",
}

SYNTAX_ERROR = {
    "python": "def two_sum(nums, target)\n    return []\n",
    "javascript": "function two_sum(nums, target) {\n  return [;\n}\n",
}


def verdicts(report: JudgeReport) -> list[str]:
    return [r.verdict for r in report.results]


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_a_correct_solution_is_accepted(judge: Judge, language: str) -> None:
    report = await judge.run(
        language=language,
        source=TWO_SUM[language],
        function_name="two_sum",
        tests=TWO_SUM_TESTS,
    )
    assert verdicts(report) == ["accepted"] * 3
    assert (report.passed, report.total, report.score) == (3, 3, 1.0)
    assert report.compile_error is None
    assert report.sandboxed
    assert all(r.time_ms is not None and r.time_ms >= 0 for r in report.results)
    assert all(r.memory_kb is not None and r.memory_kb > 1000 for r in report.results)
    assert report.peak_memory_kb == max(r.memory_kb or 0 for r in report.results)
    assert [r.test_id for r in report.results] == ["example", "middle", "same"]


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_a_wrong_answer_shows_expected_only_on_visible_tests(
    judge: Judge, language: str
) -> None:
    report = await judge.run(
        language=language, source=WRONG[language], function_name="two_sum", tests=TWO_SUM_TESTS
    )
    assert verdicts(report) == ["accepted", "wrong_answer", "accepted"]
    assert report.results[1].detail is None  # hidden: nothing about [1, 2]
    assert report.score == pytest.approx(3 / 4)  # weights 1 + 2 of 4

    visible = [case("shown", [[3, 2, 4], 6], [1, 2])]
    shown = await judge.run(
        language=language, source=WRONG[language], function_name="two_sum", tests=visible
    )
    assert shown.results[0].detail == "expected [1,2], got [0,1]"


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_an_exception_is_a_runtime_error_with_the_last_lines_of_the_traceback(
    judge: Judge, language: str
) -> None:
    report = await judge.run(
        language=language, source=THROWS[language], function_name="two_sum", tests=TWO_SUM_TESTS
    )
    assert verdicts(report) == ["runtime_error"] * 3
    visible, hidden = report.results[0].detail or "", report.results[1].detail or ""
    if language == "python":
        assert "IndexError: list index out of range" in visible
        assert 'File "solution.py", line 3, in helper' in visible
        assert hidden == "IndexError raised on a hidden test"
    else:
        assert "TypeError: Cannot read properties of undefined" in visible
        assert "at helper (solution.js:2:" in visible
        assert hidden == "TypeError raised on a hidden test"
    assert "harness" not in visible
    assert [r.visible for r in report.results] == [True, False, False]


EXFILTRATE = {
    "python": """
import os, sys
class Leak_7_3(Exception):
    pass
def two_sum(nums, target):
    if len(nums) == 4:
        return [0, 1]
    if target == 6 and nums[0] == 3 and nums[1] == 2:
        raise ValueError("hidden input: " + repr(nums) + " target " + repr(target))
    if nums == [3, 3]:
        raise Leak_7_3(repr(nums))
    os._exit(nums[0] + 40)
""",
    "javascript": """
function two_sum(nums, target) {
  if (nums.length === 4) return [0, 1];
  if (nums[1] === 2) throw new Error('hidden input: ' + JSON.stringify(nums));
  class Leak_7_3 extends Error { constructor(m) { super(m); this.name = 'Leak_7_3'; } }
  if (nums[0] === 3 && nums[1] === 3) throw new Leak_7_3(JSON.stringify(nums));
  process.exit(nums[0] + 40);
}
""",
}


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_a_hidden_test_cannot_be_read_through_errors_or_exit_codes(
    judge: Judge, language: str
) -> None:
    tests = [*TWO_SUM_TESTS, case("exits", [[5, 1], 6], [0, 1], visible=False)]
    report = await judge.run(
        language=language, source=EXFILTRATE[language], function_name="two_sum", tests=tests
    )
    hidden = [r for r in report.results if not r.visible]
    assert [r.verdict for r in hidden] == ["runtime_error"] * 3, report.results
    for result in hidden:
        text = result.detail or ""
        for secret in ("3, 2", "3,2", "3, 3", "3,3", "Leak_7_3", "45", "hidden input"):
            assert secret not in text, (secret, text)


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_a_syntax_error_is_a_compile_error_for_every_test(
    judge: Judge, language: str
) -> None:
    report = await judge.run(
        language=language,
        source=SYNTAX_ERROR[language],
        function_name="two_sum",
        tests=TWO_SUM_TESTS,
    )
    assert verdicts(report) == ["compile_error"] * 3
    assert report.score == 0.0
    assert report.compile_error is not None
    assert "SyntaxError" in report.compile_error
    assert ("line 1" if language == "python" else "solution.js:2") in report.compile_error
    assert report.results[0].detail == report.compile_error


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_unordered_and_float_comparisons(judge: Judge, language: str) -> None:
    source = {
        "python": """
import math
def pairs(n):
    return [[i, n - i] for i in range(n + 1)][::-1]
def circle(r):
    return {"area": math.pi * r * r, "parts": [1 / 3, 2 / 3]}
""",
        "javascript": """
function pairs(n) { const out = []; for (let i = n; i >= 0; i--) out.push([i, n - i]); return out; }
function circle(r) { return { area: Math.PI * r * r, parts: [1 / 3, 2 / 3] }; }
""",
    }[language]
    unordered = await judge.run(
        language=language,
        source=source,
        function_name="pairs",
        tests=[case("u", [2], [[0, 2], [1, 1], [2, 0]])],
        comparison="unordered",
    )
    exact = await judge.run(
        language=language,
        source=source,
        function_name="pairs",
        tests=[case("u", [2], [[0, 2], [1, 1], [2, 0]])],
    )
    floats = await judge.run(
        language=language,
        source=source,
        function_name="circle",
        tests=[case("f", [2], {"area": 12.566371, "parts": [0.333333, 0.6666667]})],
        comparison="float",
    )
    assert verdicts(unordered) == ["accepted"]
    assert verdicts(exact) == ["wrong_answer"]
    assert verdicts(floats) == ["accepted"]


async def test_a_time_limit_on_one_test_keeps_the_results_of_the_others(judge: Judge) -> None:
    source = """
def f(n):
    while n == 3:
        pass
    return n * 2
"""
    tests = [case(f"t{n}", [n], n * 2, visible=False) for n in (1, 2, 3, 4)]
    report = await judge.run(
        language="python", source=source, function_name="f", tests=tests, time_limit_ms=200
    )
    assert verdicts(report) == [
        "accepted",
        "accepted",
        "time_limit_exceeded",
        "accepted",  # run in a fresh sandbox after the kill
    ]
    assert report.results[2].time_ms is not None and report.results[2].time_ms >= 200


async def test_after_the_restart_budget_the_rest_is_reported_not_run(judge: Judge) -> None:
    tests = [case(f"t{n}", [n], n, visible=False) for n in range(5)]
    report = await judge.run(
        language="javascript",
        source="function f(n) { while (true) {} }",
        function_name="f",
        tests=tests,
        time_limit_ms=100,
    )
    assert verdicts(report) == ["time_limit_exceeded"] * 5
    # max_restarts=2: three sandboxes ran a test each, the last two tests were not run
    assert [(r.detail or "").startswith("not run") for r in report.results] == [
        False,
        False,
        False,
        True,
        True,
    ]


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_a_missing_function_is_a_runtime_error(judge: Judge, language: str) -> None:
    report = await judge.run(
        language=language,
        source="x = 1\n",
        function_name="two_sum",
        tests=TWO_SUM_TESTS,
    )
    assert verdicts(report) == ["runtime_error"] * 3
    assert "two_sum" in (report.results[0].detail or "")


async def test_python_leetcode_style_class_and_javascript_exports_are_found(
    judge: Judge,
) -> None:
    python = """
class Solution:
    def add(self, a, b):
        return a + b
"""
    javascript = "module.exports = { add: (a, b) => a + b };"
    for language, source in (("python", python), ("javascript", javascript)):
        report = await judge.run(
            language=language, source=source, function_name="add", tests=[case("a", [1, 2], 3)]
        )
        assert verdicts(report) == ["accepted"], (language, report)


async def test_arguments_are_fresh_copies_and_async_functions_are_awaited(judge: Judge) -> None:
    source = """
const memo = [];
async function f(xs) {
  memo.push(xs);
  xs.push(0);
  await new Promise((resolve) => setTimeout(resolve, 5));
  return memo.length === 1 ? xs.length : memo[0].length;
}
"""
    tests = [case("a", [[1, 2]], 3), case("b", [[1, 2]], 3)]
    report = await judge.run(language="javascript", source=source, function_name="f", tests=tests)
    assert verdicts(report) == ["accepted", "accepted"]


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python", "def f(n):\n    return f(n + 1)\n"),
        ("javascript", "function f(n) { return f(n + 1); }"),
    ],
)
async def test_unbounded_recursion_is_a_runtime_error(
    judge: Judge, language: str, source: str
) -> None:
    report = await judge.run(
        language=language, source=source, function_name="f", tests=[case("r", [0], 0)]
    )
    assert verdicts(report) == ["runtime_error"]
    assert any(
        word in (report.results[0].detail or "") for word in ("RecursionError", "call stack")
    )


async def test_a_value_that_is_not_json_is_a_runtime_error(judge: Judge) -> None:
    report = await judge.run(
        language="python",
        source="def f():\n    return object()\n",
        function_name="f",
        tests=[case("o", [], None)],
    )
    assert verdicts(report) == ["runtime_error"]
    assert "cannot be reported" in (report.results[0].detail or "")


async def test_submissions_run_concurrently_within_the_bound(judge: Judge) -> None:
    reports = await asyncio.gather(
        *(
            judge.run(
                language=language,
                source=TWO_SUM[language],
                function_name="two_sum",
                tests=TWO_SUM_TESTS,
            )
            for language in ("python", "javascript", "python", "javascript", "python")
        )
    )
    assert all(r.score == 1.0 for r in reports)


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_what_the_code_prints_is_shown_for_visible_examples_only(
    judge: Judge, language: str
) -> None:
    report = await judge.run(
        language=language, source=TWO_SUM[language], function_name="two_sum", tests=TWO_SUM_TESTS
    )
    shown, *hidden = report.results
    assert shown.visible and (shown.output or "").strip() == "debug output is allowed"
    assert shown.got == "[0,1]"
    assert all(r.output is None and r.got is None for r in hidden)
