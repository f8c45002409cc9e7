"""Sandboxed code judge: runs a candidate's function against a coding question's hidden
tests and reports a verdict per test.

    judge = Judge(JudgeSettings(max_concurrency=2))
    report = await judge.run(language="python", source=src, function_name="two_sum",
                             tests=question.tests, comparison=question.comparison,
                             time_limit_ms=question.time_limit_ms,
                             memory_limit_mb=question.memory_limit_mb)

Used by ai-runner (judging answers) and interviews (checking that a question's reference
solutions pass its own tests). See judge.py for the verdict rules and sandbox.py for the
isolation.
"""

from codejudge.judge import Judge, JudgeFailure
from codejudge.report import JudgeReport
from codejudge.runtimes import LANGUAGES
from codejudge.sandbox import SandboxUnavailable
from codejudge.settings import JudgeSettings

__all__ = [
    "LANGUAGES",
    "Judge",
    "JudgeFailure",
    "JudgeReport",
    "JudgeSettings",
    "SandboxUnavailable",
]
