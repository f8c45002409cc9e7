"""Hostile submissions: each is contained with the right verdict, and the host is unharmed
(no file written, no secret read, no connection made, no process left behind)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import resource
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from codejudge import Judge, JudgeReport, JudgeSettings
from codejudge.seccomp import DENIED, machine
from contracts.events import HiddenTest


def case(test_id: str, args: list[Any], expected: Any, *, visible: bool = True) -> HiddenTest:
    return HiddenTest(test_id=test_id, input=args, expected=expected, visible=visible)


ONE = [case("visible", [], None), case("hidden", [], None, visible=False)]


def verdicts(report: JudgeReport) -> list[str]:
    return [r.verdict for r in report.results]


def processes_of(uid: int) -> list[str]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        uids = next((line.split()[1:2] for line in lines if line.startswith("Uid:")), [])
        if uids == [str(uid)]:
            found.append(" ".join(line for line in lines[:3]))
    return found


async def no_processes_left(uid: int, timeout: float = 5.0) -> list[str]:
    """Wait (with a deadline) until the sandbox uid owns no process; return what is left."""
    deadline = time.monotonic() + timeout
    while (left := processes_of(uid)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


@pytest.fixture
def dedicated_uid(sandbox_uid: int) -> int:
    if os.geteuid() != 0:
        pytest.skip("stray processes are identified by the dedicated uid used when root")
    return sandbox_uid


# -- time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python", "def f():\n    while True:\n        pass\n"),
        ("javascript", "function f() { for (;;) {} }"),
    ],
)
async def test_an_infinite_loop_is_time_limit_exceeded(
    judge: Judge, language: str, source: str
) -> None:
    started = time.monotonic()
    report = await judge.run(
        language=language, source=source, function_name="f", tests=ONE[:1], time_limit_ms=200
    )
    assert verdicts(report) == ["time_limit_exceeded"]
    assert time.monotonic() - started < 5


async def test_a_python_fork_bomb_is_contained_and_leaves_nothing_behind(
    judge: Judge, dedicated_uid: int
) -> None:
    source = """
import os
def f():
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""
    report = await judge.run(
        language="python", source=source, function_name="f", tests=ONE[:1], time_limit_ms=300
    )
    assert verdicts(report)[0] in ("time_limit_exceeded", "runtime_error")
    assert await no_processes_left(dedicated_uid) == []
    healthy = await judge.run(
        language="python",
        source="def f():\n    return None\n",
        function_name="f",
        tests=ONE[:1],
    )
    assert verdicts(healthy) == ["accepted"]


async def test_a_javascript_fork_bomb_through_child_process_is_contained(
    judge: Judge, dedicated_uid: int
) -> None:
    source = """
const { execSync } = require('child_process');
function f() {
  execSync('b(){ b|b& }; b; sleep 5', { shell: '/bin/sh', stdio: 'ignore' });
  return 'escaped';
}
"""
    report = await judge.run(
        language="javascript", source=source, function_name="f", tests=ONE, time_limit_ms=300
    )
    assert set(verdicts(report)) <= {"time_limit_exceeded", "runtime_error"}
    assert await no_processes_left(dedicated_uid) == []


async def test_a_cancelled_run_leaves_nothing_behind(judge: Judge, dedicated_uid: int) -> None:
    run = asyncio.create_task(
        judge.run(
            language="javascript",
            source="function f() { for (;;) {} }",
            function_name="f",
            tests=ONE[:1],
            time_limit_ms=10_000,
        )
    )
    deadline = time.monotonic() + 5
    while not processes_of(dedicated_uid) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert processes_of(dedicated_uid), "the sandbox never started"
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert await no_processes_left(dedicated_uid) == []


# -- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python", "def f():\n    return len(bytearray(4 * 1024 ** 3))\n"),
        (
            "python",
            "def f():\n    hoard = []\n    while True:\n        hoard.append(' ' * 2**20)\n",
        ),
        ("javascript", "function f() { return new ArrayBuffer(4 * 1024 ** 3).byteLength; }"),
        (
            "javascript",
            "function f() { const a = []; for (;;) a.push(new Array(1e5).fill(1.5)); }",
        ),
        ("javascript", "function f() { return Buffer.alloc(200 * 1024 * 1024, 1).length; }"),
    ],
    ids=["py-4gb", "py-growth", "js-4gb-buffer", "js-heap", "js-rss"],
)
async def test_a_huge_allocation_is_memory_limit_exceeded(
    judge: Judge, language: str, source: str
) -> None:
    report = await judge.run(
        language=language, source=source, function_name="f", tests=ONE, memory_limit_mb=64
    )
    assert verdicts(report) == ["memory_limit_exceeded"] * 2


# -- files, secrets, network -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_writing_a_huge_file_fails_inside_and_nothing_appears_on_the_host(
    judge: Judge, language: str
) -> None:
    name = f"codejudge-{uuid.uuid4().hex}"
    source = {
        "python": f"""
def f():
    for path in ("/tmp/{name}", "{name}", "/{name}"):
        try:
            with open(path, "w") as fh:
                for _ in range(100):
                    fh.write("x" * 1_000_000)
        except OSError:
            pass
    with open("/tmp/{name}", "w") as fh:
        fh.write("x" * 100_000_000)
""",
        "javascript": f"""
const fs = require('fs');
function f() {{
  for (const path of ['/tmp/{name}', '{name}', '/{name}']) {{
    try {{
      fs.writeFileSync(path, 'x'.repeat(1000000));
      fs.appendFileSync(path, 'x'.repeat(1000000));
    }} catch (_) {{}}
  }}
  fs.writeFileSync('/tmp/{name}', 'x'.repeat(100000000));
}}
""",
    }[language]
    report = await judge.run(language=language, source=source, function_name="f", tests=ONE[:1])
    assert verdicts(report)[0] in (
        "runtime_error",
        "output_limit_exceeded",
        "memory_limit_exceeded",
    )
    for place in (Path("/tmp"), Path("/"), Path.cwd()):
        assert not (place / name).exists()


async def test_reading_etc_shadow_fails_inside(judge: Judge) -> None:
    secret_line = Path("/etc/shadow").read_text().splitlines()[0] if os.geteuid() == 0 else None
    report = await judge.run(
        language="python",
        source="def f():\n    return open('/etc/shadow').read()\n",
        function_name="f",
        tests=ONE,
    )
    assert verdicts(report) == ["runtime_error"] * 2
    assert "No such file or directory" in (report.results[0].detail or "")
    if secret_line:
        assert all(secret_line not in (r.detail or "") for r in report.results)


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python", "import os\ndef f(name):\n    return os.environ.get(name)\n"),
        ("javascript", "function f(name) { return process.env[name] ?? null; }"),
    ],
)
async def test_the_services_environment_does_not_reach_the_submission(
    judge: Judge, monkeypatch: pytest.MonkeyPatch, language: str, source: str
) -> None:
    monkeypatch.setenv("CODEJUDGE_TEST_SECRET", "s3cr3t-value")
    report = await judge.run(
        language=language,
        source=source,
        function_name="f",
        tests=[case("env", ["CODEJUDGE_TEST_SECRET"], None)],
    )
    assert verdicts(report) == ["accepted"]  # the variable is not there


async def test_the_whole_environment_of_the_submission_is_minimal(
    judge: Judge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEJUDGE_TEST_SECRET", "s3cr3t-value")
    report = await judge.run(
        language="python",
        source="import os\ndef f():\n    return dict(os.environ)\n",
        function_name="f",
        tests=[case("env", [], {})],
    )
    detail = report.results[0].detail or ""
    assert "s3cr3t" not in detail and "CODEJUDGE" not in detail
    assert '"PATH":"/usr/bin:/bin"' in detail


@pytest.mark.parametrize(
    ("language", "source"),
    [
        (
            "python",
            "import socket\ndef f(port):\n"
            "    socket.create_connection(('127.0.0.1', port), timeout=2)\n"
            "    return 'connected'\n",
        ),
        (
            "javascript",
            """
const net = require('net');
function f(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve('connected'));
    socket.on('error', reject);
  });
}
""",
        ),
    ],
)
async def test_there_is_no_network(judge: Judge, language: str, source: str) -> None:
    connections = 0

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        report = await judge.run(
            language=language,
            source=source,
            function_name="f",
            tests=[case("net", [port], "connected")],
        )
    assert verdicts(report) == ["runtime_error"]
    assert "refused" in (report.results[0].detail or "").lower()
    assert connections == 0


async def test_rm_rf_root_leaves_the_host_untouched(judge: Judge, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("still here")
    source = f"""
import os, shutil
def f():
    os.system('rm -rf / 2>/dev/null')
    shutil.rmtree({str(tmp_path)!r}, ignore_errors=True)
    return os.path.exists({str(canary)!r})
"""
    report = await judge.run(
        language="python", source=source, function_name="f", tests=[case("rm", [], False)]
    )
    assert verdicts(report) == ["accepted"]  # the canary is not even visible inside
    assert canary.read_text() == "still here"


# -- output ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("python", "def f():\n    for _ in range(1000):\n        print('x' * 10_000)\n"),
        ("python", "import os\ndef f():\n    os.write(1, b'x' * 50_000_000)\n"),
        ("javascript", "function f() { for (;;) console.log('x'.repeat(1e4)); }"),
        ("javascript", "function f() { require('fs').writeSync(2, 'x'.repeat(5e7)); }"),
        ("python", "def f():\n    return 'x' * 50_000_000\n"),
    ],
    ids=["py-print", "py-raw-fd", "js-console", "js-raw-fd", "py-huge-return"],
)
async def test_printing_megabytes_is_output_limit_exceeded_without_bloating_the_judge(
    judge: Judge, language: str, source: str
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = await judge.run(language=language, source=source, function_name="f", tests=ONE)
    assert verdicts(report) == ["output_limit_exceeded"] * 2
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 20_000  # the judge kept counting, not buffering


# -- the seccomp filter ----------------------------------------------------------------------

# PTRACE_TRACEME: harmless, allowed to any process without the filter, so the control below
# shows it is the filter (not missing capabilities or namespaces) that refuses it
PTRACE_SELF = (
    "import ctypes\n"
    "def f():\n"
    "    libc = ctypes.CDLL(None, use_errno=True)\n"
    "    result = libc.ptrace(0, 0, None, None)\n"
    "    return [result, ctypes.get_errno()]\n"
)
# keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0): the kernel keyring
KEYCTL = DENIED["keyctl"][0 if machine() == "x86_64" else 1]
KEYRING = (
    "import ctypes\n"
    "def f():\n"
    "    libc = ctypes.CDLL(None, use_errno=True)\n"
    f"    result = libc.syscall({KEYCTL}, 0, -3, 0)\n"
    "    return [result, ctypes.get_errno()]\n"
)
EPERM = 1


async def test_a_blocked_syscall_fails_with_eperm_inside_the_sandbox(judge: Judge) -> None:
    for source in (PTRACE_SELF, KEYRING):
        report = await judge.run(
            language="python",
            source=source,
            function_name="f",
            tests=[case("blocked", [], [-1, EPERM])],
        )
        assert verdicts(report) == ["accepted"], report.results[0].detail


async def test_without_the_filter_the_same_ptrace_call_succeeds(
    judge_settings: JudgeSettings,
) -> None:
    unfiltered = Judge(dataclasses.replace(judge_settings, seccomp_filter=False))
    assert unfiltered.sandbox_available(), unfiltered.sandbox_unavailable_reason
    report = await unfiltered.run(
        language="python",
        source=PTRACE_SELF,
        function_name="f",
        tests=[case("allowed", [], [0, 0])],
    )
    assert verdicts(report) == ["accepted"], report.results[0].detail
