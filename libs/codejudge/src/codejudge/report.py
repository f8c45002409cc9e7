"""What the judge hands back for one submission: one `TestResult` per hidden test (the
contracts type that travels in `SessionScored`), plus the totals a scorer needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.events import HiddenTest, TestResult


@dataclass(frozen=True, slots=True)
class JudgeReport:
    language: str
    results: tuple[TestResult, ...]
    passed: int
    total: int
    score: float
    """Weighted share of accepted tests, 0..1."""
    compile_error: str | None
    duration_ms: int
    """Wall time of the whole run, sandbox start-up included."""
    peak_memory_kb: int | None
    """Largest peak resident set size of any test (interpreter included)."""
    sandboxed: bool
    """False only under `allow_unsandboxed` without a working bubblewrap."""

    @classmethod
    def build(
        cls,
        *,
        language: str,
        tests: Sequence[HiddenTest],
        results: Sequence[TestResult],
        compile_error: str | None,
        duration_ms: int,
        sandboxed: bool,
    ) -> JudgeReport:
        total_weight = sum(test.weight for test in tests)
        accepted_weight = sum(
            test.weight
            for test, result in zip(tests, results, strict=True)
            if result.verdict == "accepted"
        )
        memories = [r.memory_kb for r in results if r.memory_kb is not None]
        return cls(
            language=language,
            results=tuple(results),
            passed=sum(1 for r in results if r.verdict == "accepted"),
            total=len(results),
            score=accepted_weight / total_weight if total_weight > 0 else 0.0,
            compile_error=compile_error,
            duration_ms=duration_ms,
            peak_memory_kb=max(memories) if memories else None,
            sandboxed=sandboxed,
        )
