"""Review of a coding answer: correctness from the judge (the weighted share of tests
passed), approach, complexity and clarity from static analysis (`code_analysis`).
Overall = 70% correctness + 30% review, then bounded by the guard (`bound_code`).

The tests outrank the reading of the code: a solution whose tests run out of time is never
said to meet the complexity target, whatever its loops look like."""

from __future__ import annotations

import re

from contracts.events import Answer, AnswerResult, CodingQuestionSnapshot, DimensionScore

from ai_runner.adapters.offline_grader.code_analysis import (
    code_facts,
    format_complexity,
    gap,
    normalise_language,
    parse_complexity,
    snippets,
)
from ai_runner.adapters.offline_grader.text import clamp, one_line, sentence_case
from ai_runner.app.ports import JudgeSummary
from ai_runner.domain import guard

CODE_DIMENSIONS = ("correctness", "approach", "complexity", "clarity")
CORRECTNESS_SHARE = 0.7  # overall = 70% tests + 30% review

_TAG_EXPECT: dict[str, tuple[str, ...]] = {
    "hashing": ("hash", "set"),
    "hash-table": ("hash", "set"),
    "hash-map": ("hash", "set"),
    "sliding-window": ("hash", "set", "deque", "two_pointers"),
    "two-pointers": ("two_pointers",),
    "binary-search": ("halving", "bisect"),
    "heap": ("heap",),
    "priority-queue": ("heap",),
    "bfs": ("deque", "queue"),
    "dfs": ("recursion", "stack"),
    "graphs": ("recursion", "stack", "deque", "queue", "set"),
    "stack": ("stack",),
    "monotonic-stack": ("stack",),
    "queue": ("deque", "queue"),
    "dynamic-programming": ("dp", "memo"),
    "greedy": ("running_extreme",),
    "bit-manipulation": ("bit",),
    "trees": ("recursion", "deque", "queue", "stack"),
    "linked-lists": ("linked",),
    "sorting": ("sort",),
    "backtracking": ("recursion",),
    "recursion": ("recursion",),
    "matrix": ("recursion", "deque", "queue", "stack"),
}
_TAG_APPROACH: dict[str, str] = {
    "hashing": "keep a hash map or set of what you have seen so each lookup is O(1)",
    "hash-table": "keep a hash map or set of what you have seen so each lookup is O(1)",
    "sliding-window": "slide a window over the input, adding the new element and dropping "
    "the one that falls out, with a set or map for the window's contents",
    "two-pointers": "move two indices toward each other (or along two inputs) so each "
    "element is visited once",
    "binary-search": "keep a search interval with a clear invariant and halve it each step",
    "heap": "keep a heap of the best candidates so the top is always O(log n) away",
    "priority-queue": "keep a heap of the best candidates so the top is always O(log n) away",
    "bfs": "explore level by level with a queue (deque), marking nodes as visited",
    "dfs": "recurse (or use an explicit stack) into each neighbour or child once",
    "graphs": "visit each node and edge once, marking visited nodes",
    "stack": "push pending items on a stack and resolve them when their match arrives",
    "dynamic-programming": "build the answer from smaller subproblems, keeping only the "
    "last values you need",
    "greedy": "make one pass keeping the best value so far (a running minimum or maximum)",
    "bit-manipulation": "use XOR/AND to cancel or test bits instead of extra storage",
    "math": "use a closed-form identity (for example the sum 0..n) instead of extra storage",
    "trees": "recurse into the left and right children and combine their results",
    "linked-lists": "walk the lists with pointers, splicing nodes behind a dummy head",
    "sorting": "sort first, then use the order to answer in one pass",
    "matrix": "visit each cell once, marking cells as you go",
    "strings": "scan the string once, keeping only the state you need",
    "arrays": "scan the array once, keeping only the state you need",
}
_STRUCTURE_WORDS = {
    "hash": "a hash map",
    "set": "a set",
    "heap": "a heap",
    "deque": "a deque",
    "queue": "a queue",
    "bisect": "bisect",
    "stack": "a stack",
    "sort": "sorting",
    "halving": "interval halving",
    "two_pointers": "two pointers",
    "bit": "bit operations",
    "math_formula": "a closed-form formula",
    "dp": "dynamic programming",
    "memo": "memoisation",
    "running_extreme": "a running min/max",
    "recursion": "recursion",
    "tree": "tree recursion",
    "linked": "pointer walking",
}


def _error_summary(text: str) -> str:
    """The gist of a compiler or interpreter message: the error line and its line number."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    error = next((ln for ln in reversed(lines) if re.search(r"\w*(Error|Exception)\b", ln)), None)
    where = re.search(r"\bline (\d+)", text)
    summary = error or (lines[-1] if lines else "syntax error")
    if where and "line" not in summary:
        summary += f" (line {where.group(1)})"
    return one_line(summary, 140)


def _judge_comment(judge: JudgeSummary) -> str:
    if judge.compile_error:
        return f"Did not compile or load: {_error_summary(judge.compile_error)}."
    parts = [f"Passed {judge.passed} of {judge.total} hidden tests"]
    failing = [
        f"{n} {v.replace('_', ' ')}"
        for v, n in sorted(judge.verdicts.items())
        if v != "accepted" and n
    ]
    if failing:
        parts.append(" (" + ", ".join(failing) + ")")
    return "".join(parts) + "."


_GENERAL_TAGS = frozenset({"arrays", "strings", "math"})


def _approach_idea(question: CodingQuestionSnapshot) -> str:
    """The approach the question's tags point to, most specific tag first."""
    tags = [t.lower() for t in question.tags if t.lower() in _TAG_APPROACH]
    tags.sort(key=lambda t: t in _GENERAL_TAGS)  # stable: keeps the question's order otherwise
    return _TAG_APPROACH[tags[0]] if tags else ""


def _code_outline(question: CodingQuestionSnapshot) -> str:
    target = question.optimal_complexity or "the best bound you can justify"
    approach_lines = [
        r.split(":", 1)[1].strip() for r in question.rubric if r.lower().startswith("approach:")
    ]
    edge_lines = [
        r.split(":", 1)[1].strip() for r in question.rubric if r.lower().startswith("edge cases:")
    ]
    approach = (
        approach_lines[0]
        if approach_lines
        else (_approach_idea(question) or "find the pattern that avoids re-scanning the input")
    )
    steps = [
        "- Clarify: restate the input and output, and agree the edge cases"
        + (f" ({edge_lines[0].rstrip('.')})" if edge_lines else "")
        + ".",
        "- Examples: work one example by hand, including a tricky case.",
        f"- Approach: {approach.rstrip('.')}.",
        f"- Complexity: {target}; explain why a brute-force double loop is slower.",
        "- Code: one function with clear names and a short comment on the invariant.",
        "- Test: run the examples and the edge cases before submitting.",
    ]
    return "\n".join(steps)


def _empty_code_result(question: CodingQuestionSnapshot, judge: JudgeSummary) -> AnswerResult:
    comment = "No code was submitted, so there is nothing to review."
    dims = tuple(
        DimensionScore(dimension=d, score=0, evidence=(), comment=comment) for d in CODE_DIMENSIONS
    )
    result = AnswerResult(
        question_id=question.question_id,
        score=0,
        dimensions=dims,
        strengths=(),
        improvements=(
            "Submit a solution, even a brute-force one: a correct slow answer scores far more "
            "than none.",
            "Start from the signature given and make the examples pass first.",
        ),
        model_answer_outline=_code_outline(question),
    )
    return guard.bound_code(result, judge.score, judge.verdicts)


def review_code_answer(
    question: CodingQuestionSnapshot, answer: Answer, judge: JudgeSummary
) -> AnswerResult:
    """Review one coding answer (pure function); the caller fills in `tests`."""
    source = answer.response
    if not source.strip():
        return _empty_code_result(question, judge)
    language = normalise_language(answer.language, source)
    facts = code_facts(source, language, question.function_name, question.tags)
    share = max(0.0, min(1.0, judge.score))
    correctness = clamp(share * 100)
    target = parse_complexity(question.optimal_complexity)
    estimate = facts.complexity
    compile_failed = bool(judge.compile_error) or not facts.parsed
    tle = judge.verdicts.get("time_limit_exceeded", 0)
    # the tests call the function by the question's name: under another name none can run it
    misnamed = bool(question.function_name) and not re.search(
        rf"\b{re.escape(question.function_name)}\b", source
    )

    # complexity ------------------------------------------------------
    loop_evidence = snippets(facts, sorted(facts.loop_lines)[:2] + sorted(facts.cost_lines)[:1])
    if estimate is None:
        cx_score, cx_comment = 20.0, "Could not estimate the running time."
    elif target is None:
        cx_score = {0: 85, 1: 80, 2: 60}.get(estimate[1], 40) if not estimate[0] else 20
        cx_comment = f"Runs in about {format_complexity(estimate)}."
    else:
        slower = gap(estimate, target)
        cx_score = 92 if slower == 0 else 55 if slower == 1 else 35 if slower == 2 else 18
        est_s, tgt_s = format_complexity(estimate), format_complexity(target)
        cx_comment = (
            f"Runs in about {est_s}, which meets the {tgt_s} target."
            if slower == 0
            else f"Runs in about {est_s}; the target is {tgt_s}."
        )
    if tle:
        # the tests outrank the reading of the loops: never "meets the target" while tests
        # run out of time (a `while True: pass` reads as one loop)
        cx_score = min(cx_score, 35)
        shape = f"The loops read like {format_complexity(estimate)}, but " if estimate else ""
        cx_comment = (
            f"{shape}{tle} test(s) ran out of time: a loop that never ends, or one that runs "
            "far more often than it looks."
        )
        cx_comment = cx_comment[0].upper() + cx_comment[1:]
    if compile_failed:
        cx_score = min(cx_score, 30)
        cx_comment = "The code does not compile, so its running time is only a rough guess."
    # the running time of code that gets the answer wrong is worth little
    cx_cap = 35 + 57 * share**2
    if cx_score > cx_cap and not compile_failed:
        cx_comment = f"{cx_comment.rstrip('.')}, but speed matters little while answers are wrong."
    cx_score = min(cx_score, cx_cap)
    if not loop_evidence:
        loop_evidence = snippets(
            facts,
            [facts.structure_lines.get(k) for k in sorted(facts.structures)] + [facts.def_line],
            1,
        )

    # approach -------------------------------------------------------
    expected = sorted({s for t in question.tags for s in _TAG_EXPECT.get(t.lower(), ())})
    relevant_tags = [t for t in question.tags if t.lower() in _TAG_EXPECT]
    matched_tags = [t for t in relevant_tags if set(_TAG_EXPECT[t.lower()]) & facts.structures]
    used = [s for s in expected if s in facts.structures]
    if relevant_tags:
        fit = len(matched_tags) / len(relevant_tags)
    else:
        fit = 0.6 if facts.structures else 0.4
    # a solution whose tests run out of time does not meet any bound, whatever it reads like
    meets = not tle and target is not None and estimate is not None and gap(estimate, target) == 0
    ap_score = 25 + 35 * fit + (25 if meets else 5 if estimate is not None else 0)
    if estimate is not None and target is not None and gap(estimate, target) >= 1:
        ap_score -= 10
    ap_score = min(ap_score, 30 + 60 * share**2)
    if compile_failed:
        ap_score = min(ap_score, 35)
    approach_lines = [facts.structure_lines.get(s) for s in used] + [
        facts.structure_lines.get(s) for s in sorted(facts.structures)
    ]
    ap_evidence = snippets(facts, approach_lines, 2) or snippets(facts, [facts.def_line], 1)
    if used:
        ap_comment = (
            "Uses "
            + ", ".join(_STRUCTURE_WORDS.get(s, s) for s in used[:3])
            + (
                ", the structure this problem calls for."
                if meets
                else ", but the overall plan does not reach the target bound."
            )
        )
    elif relevant_tags:
        want = " or ".join(sorted({_STRUCTURE_WORDS.get(s, s) for s in expected}))
        ap_comment = f"Does not use {want}, which is the natural fit for this problem."
    else:
        ap_comment = "A direct approach; no special data structure is needed here."
    if compile_failed:
        ap_comment = (
            f"{ap_comment.rstrip('.')}; the code does not compile, so the idea is untested."
        )
    elif share < 0.6:
        ap_comment = f"{ap_comment.rstrip('.')}; the logic misses cases the tests cover."

    # clarity ---------------------------------------------------------
    cl_score = 68.0
    cl_notes: list[str] = []
    if misnamed:
        cl_score -= 25
        cl_notes.append(f"there is no function named `{question.function_name}`")
    if facts.docstring or facts.comment_lines:
        cl_score += 10
        cl_notes.append("explains itself with a docstring or comments")
    if facts.typed:
        cl_score += 5
    if facts.poor_names:
        cl_score -= min(20, 7 * len(facts.poor_names))
        cl_notes.append(
            "some names are single letters that say nothing: "
            + ", ".join(f"`{n}`" for n, _ in facts.poor_names[:3])
        )
    if facts.function_lines > 60:
        cl_score -= 18
        cl_notes.append(f"the function is long ({facts.function_lines} lines)")
    elif facts.function_lines > 30:
        cl_score -= 8
        cl_notes.append(f"the function is fairly long ({facts.function_lines} lines)")
    if facts.max_nesting > 4:
        cl_score -= 10
        cl_notes.append("deeply nested blocks")
    if facts.style_issues:
        cl_score -= min(10, 4 * len(facts.style_issues))
        cl_notes.append(facts.style_issues[0][0])
    if facts.injected_lines:
        cl_score = min(cl_score - 25, 20)  # misleading comments are worse than none
        cl_notes.append("comments address the grader instead of explaining the code")
    if compile_failed:
        cl_score = min(cl_score, 15)
        err = _error_summary(judge.compile_error or facts.parse_error or "syntax error")
        cl_comment = one_line(f"The code does not compile ({err}).", 200)
    else:
        cl_comment = (
            ("Readable: " + "; ".join(cl_notes) + ".")
            if cl_notes and cl_score >= 70
            else (sentence_case("; ".join(cl_notes)) + ".")
            if cl_notes
            else "Readable and compact, though a short comment on the key idea would help."
        )
    cl_lines = (
        [facts.def_line]
        + [ln for _, ln in facts.poor_names[:1]]
        + [ln for _, ln in facts.style_issues[:1]]
    )
    cl_evidence = snippets(facts, cl_lines, 2)

    dims = (
        DimensionScore(
            dimension="correctness",
            score=correctness,
            evidence=(),
            comment=_judge_comment(judge)
            + (f" There is no function named `{question.function_name}`." if misnamed else ""),
        ),
        DimensionScore(
            dimension="approach",
            score=clamp(ap_score),
            evidence=ap_evidence,
            comment=one_line(ap_comment, 200),
        ),
        DimensionScore(
            dimension="complexity",
            score=clamp(cx_score),
            evidence=loop_evidence,
            comment=one_line(cx_comment, 200),
        ),
        DimensionScore(
            dimension="clarity",
            score=clamp(cl_score),
            evidence=cl_evidence,
            comment=one_line(cl_comment, 200),
        ),
    )
    review = (dims[1].score + dims[2].score + dims[3].score) / 3
    overall = clamp(CORRECTNESS_SHARE * correctness + (1 - CORRECTNESS_SHARE) * review)

    strengths: list[str] = []
    improvements: list[str] = []
    if correctness == 100:
        strengths.append("Correct on every hidden test, including the edge cases.")
    elif correctness >= 70:
        strengths.append(f"Mostly correct: {judge.passed} of {judge.total} hidden tests pass.")
    if meets and dims[2].score >= 70:
        strengths.append(f"Meets the target complexity ({question.optimal_complexity}).")
    if used and dims[1].score >= 60:
        strengths.append(
            "Chooses "
            + _STRUCTURE_WORDS.get(used[0], used[0])
            + ", the right tool for this problem."
        )
    if dims[3].score >= 75 and len(strengths) < 3:
        strengths.append("Clear code: meaningful names and a short explanation of the idea.")

    if misnamed:
        improvements.append(
            f"Name your function `{question.function_name}`, as in the signature given: the "
            "tests call it by that name, so they could not run your code."
        )
    if compile_failed:
        err = _error_summary(judge.compile_error or facts.parse_error or "syntax error")
        improvements.append(
            one_line(
                f"Fix the syntax error first ({err}); run the examples before submitting.", 200
            )
        )
    elif tle:
        improvements.append(
            f"{tle} test(s) ran out of time: make sure every loop ends (its condition must "
            "change on each pass) and that no loop scans the whole input again on each pass."
        )
    elif correctness < 100 and not misnamed:
        failing = {v: n for v, n in judge.verdicts.items() if v != "accepted" and n}
        if "wrong_answer" in failing or "runtime_error" in failing:
            edge = [
                r.split(":", 1)[1].strip()
                for r in question.rubric
                if r.lower().startswith("edge cases:")
            ]
            hint = (
                f" Check: {edge[0].rstrip('.')}."
                if edge
                else " Check empty input, duplicates and the boundaries."
            )
            improvements.append(
                f"Handle the failing cases: {judge.total - judge.passed} hidden tests fail.{hint}"
            )
    if facts.injected_lines:
        improvements.append(
            "Comments addressed to the grader are ignored; use comments to "
            "explain the code's idea instead."
        )
    if target is not None and estimate is not None and not tle and gap(estimate, target) >= 1:
        idea = _approach_idea(question)
        improvements.append(
            f"Bring the running time from {format_complexity(estimate)} down to "
            f"{question.optimal_complexity or format_complexity(target)}"
            + (f": {idea}." if idea else ".")
        )
    if facts.poor_names and len(improvements) < 3:
        improvements.append(
            f"Use descriptive names instead of single letters such as `{facts.poor_names[0][0]}`."
        )
    if not (facts.docstring or facts.comment_lines) and len(improvements) < 3:
        improvements.append(
            "Add a one-line comment or docstring stating the key idea or invariant."
        )
    if not improvements:
        improvements.append(
            "State the complexity and the edge cases you considered when you submit."
        )

    result = AnswerResult(
        question_id=question.question_id,
        score=overall,
        dimensions=dims,
        strengths=tuple(strengths[:3]),
        improvements=tuple(improvements[:3]),
        model_answer_outline=_code_outline(question),
    )
    return guard.bound_code(result, share, judge.verdicts)
