"""Without a working bubblewrap the judge refuses to run code, unless a developer allowed the
unsandboxed fallback; bad arguments are rejected before anything runs."""

from __future__ import annotations

import pytest
from codejudge import Judge, JudgeSettings, SandboxUnavailable
from contracts.events import HiddenTest

TESTS = [HiddenTest(test_id="t", input=[2, 3], expected=5, visible=True)]
ADD = {
    "python": "def add(a, b):\n    return a + b\n",
    "javascript": "function add(a, b) { return a + b; }",
}


def no_bwrap(**overrides: object) -> JudgeSettings:
    return JudgeSettings(bwrap_path="/nonexistent/bwrap", **overrides)  # type: ignore[arg-type]


async def test_without_bubblewrap_run_raises_sandbox_unavailable() -> None:
    judge = Judge(no_bwrap())
    assert judge.sandbox_available() is False
    assert "bubblewrap not found" in (judge.sandbox_unavailable_reason or "")
    with pytest.raises(SandboxUnavailable, match="bubblewrap not found"):
        await judge.run(language="python", source=ADD["python"], function_name="add", tests=TESTS)


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_allow_unsandboxed_still_judges_with_rlimits(
    judge_settings: JudgeSettings, language: str
) -> None:
    judge = Judge(
        no_bwrap(
            allow_unsandboxed=True,
            sandbox_uid=judge_settings.sandbox_uid,
            sandbox_gid=judge_settings.sandbox_gid,
        )
    )
    report = await judge.run(
        language=language, source=ADD[language], function_name="add", tests=TESTS
    )
    assert [r.verdict for r in report.results] == ["accepted"]
    assert report.sandboxed is False

    looping = await judge.run(
        language=language,
        source="def add(a, b):\n    while True:\n        pass\n"
        if language == "python"
        else "function add() { for (;;) {} }",
        function_name="add",
        tests=TESTS,
        time_limit_ms=200,
    )
    assert [r.verdict for r in looping.results] == ["time_limit_exceeded"]


async def test_unsupported_language_and_bad_names_are_value_errors(judge: Judge) -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        await judge.run(language="cobol", source="", function_name="add", tests=TESTS)
    for name in ("import", "two-sum", "class", "", "f()"):
        with pytest.raises(ValueError, match="function_name"):
            await judge.run(language="python", source="", function_name=name, tests=TESTS)
    with pytest.raises(ValueError, match="comparison"):
        await judge.run(
            language="python",
            source="",
            function_name="add",
            tests=TESTS,
            comparison="fuzzy",  # type: ignore[arg-type]
        )


def test_judges_under_uvloop_the_loop_uvicorn_runs_services_on() -> None:
    """asyncio's subprocess `user=`/`group=` arguments are refused by uvloop; the judge must
    not depend on them (it drops privileges with setpriv instead)."""
    import uvloop
    from codejudge import Judge, JudgeSettings
    from contracts.events import HiddenTest

    async def judge_once() -> tuple[int, int, bool]:
        report = await Judge(JudgeSettings()).run(
            language="python",
            source="def double(a):\n    return a * 2\n",
            function_name="double",
            tests=[HiddenTest(test_id="t", input=[2], expected=4)],
        )
        return report.passed, report.total, report.sandboxed

    assert uvloop.run(judge_once()) == (1, 1, True)


# -- what the start-up probe checks -------------------------------------------------------------


def _report(namespaces: dict[str, str], seccomp: str = "2") -> str:
    lines = [f"ns {name} {link}" for name, link in namespaces.items()]
    return "\n".join([*lines, f"Seccomp:\t{seccomp}"])


def test_the_probe_refuses_a_sandbox_that_shares_a_namespace_with_the_service() -> None:
    from codejudge.sandbox import NAMESPACES, isolation_problem

    host = {name: f"{name}:[4026531{i}]" for i, name in enumerate(NAMESPACES)}
    own = {name: f"{name}:[4026532{i}]" for i, name in enumerate(NAMESPACES)}
    assert isolation_problem(_report(own), host, seccomp=True) is None
    shared_net = {**own, "net": host["net"]}
    assert "shares the service's net namespace" in (
        isolation_problem(_report(shared_net), host, seccomp=True) or ""
    )
    missing = {k: v for k, v in own.items() if k != "pid"}
    assert "did not report its pid namespace" in (
        isolation_problem(_report(missing), host, seccomp=True) or ""
    )
    assert "without its seccomp filter" in (
        isolation_problem(_report(own, seccomp="0"), host, seccomp=True) or ""
    )
    assert isolation_problem(_report(own, seccomp="0"), host, seccomp=False) is None


def test_the_real_sandbox_reports_its_own_namespaces_and_the_filter(judge: Judge) -> None:
    """The probe behind sandbox_available() ran the checks above on a real bubblewrap."""
    from codejudge.sandbox import host_namespaces

    assert judge.sandbox_available(), judge.sandbox_unavailable_reason
    assert set(host_namespaces()) >= {"user", "pid", "net"}
