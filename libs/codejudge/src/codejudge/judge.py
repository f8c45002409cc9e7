"""The judge: runs a submission against a question's tests and turns what happened into
per-test verdicts.

One sandbox runs all the tests in order (starting an interpreter per test would cost more
than most tests take). The harness inside reports on its own pipe, one JSON line per event:
`ready`, then `compile_error` or `loading` -> `load_error` | `loaded`, then `begin`/`end` per
test, then `done`. The judge watches from outside, with the limits that the submission cannot
tamper with:

- a wall-clock deadline per phase (per test: `time_limit_ms * wall_clock_factor`); when it
  passes, the whole sandbox is killed and the running test is time_limit_exceeded;
- the verdict itself uses the CPU time the harness measured (over the limit -> TLE);
- RLIMIT_CPU/AS/NPROC/NOFILE/FSIZE inside the sandbox (see sandbox.py);
- raw output (writes that bypass the harness's capped print) is counted and capped here,
  never buffered: only the last few KB are kept, to recognize an interpreter's dying words.

When a sandbox dies in the middle (killed, or crashed: heap exhausted, signal), the tests it
finished keep their results, the running one gets the verdict of the death, and the rest run
in a fresh sandbox (at most `max_restarts` times; then they are reported not run, with the
same verdict).

Expected values never enter the sandbox: comparison happens here, and only visible tests get
an "expected X, got Y" detail.
"""

from __future__ import annotations

import asyncio
import json
import keyword
import math
import os
import re
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from contracts.events import Comparison, HiddenTest, TestResult, Verdict

from codejudge.compare import matches, preview
from codejudge.report import JudgeReport
from codejudge.runtimes import LANGUAGES, Runtime, resolve
from codejudge.sandbox import Launch, Limits, Sandbox, SandboxStatus, SandboxUnavailable
from codejudge.settings import JudgeSettings

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_JS_RESERVED = frozenset(
    "await break case catch class const continue debugger default delete do else enum export "
    "extends false finally for function if implements import in instanceof interface let new "
    "null package private protected public return static super switch this throw true try "
    "typeof var void while with yield arguments eval undefined".split()
)
_COMPARISONS = ("exact", "unordered", "float")
_HEAP_EXHAUSTED = (
    b"JavaScript heap out of memory",
    b"Reached heap limit",
    b"std::bad_alloc",
    b"MemoryError",
    b"Cannot allocate memory",
)
_OUTPUT_TAIL_BYTES = 8192
_KEPT_OUTPUT_CHARS = 2000  # of a test's prints, as the harnesses keep them
_RAW_OUTPUT_SLACK_BYTES = 16_384  # an interpreter's own fatal message must fit
_EXIT_GRACE_S = 2.0
_DRAIN_GRACE_S = 2.0
_REAP_GRACE_S = 2.0
_STARTUP_CPU_S = 2
# What a hidden test's runtime error may say: the name of a standard exception, never its
# message (candidate code can put the hidden input in a message, or in a class it names).
_STANDARD_ERRORS = frozenset(
    name
    for name, value in vars(__import__("builtins")).items()
    if isinstance(value, type) and issubclass(value, BaseException)
) | {"Error", "RangeError", "ReferenceError", "SyntaxError", "EvalError", "URIError"}
_VISIBLE_DETAIL_CHARS = 2000


class JudgeFailure(RuntimeError):
    """The judge itself failed (the sandbox did not start the harness): not the submission's
    fault, so no verdict is given."""


Kind = Literal["value", "error", "memory", "output", "time", "crash", "compile"]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What happened to one test, before comparison."""

    kind: Kind
    value: Any = None
    time_ms: float | None = None
    memory_kb: int | None = None
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    not_run: bool = False
    output: str | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    test: HiddenTest
    args: list[Any]
    expected: Any


@dataclass(slots=True)
class _AttemptResult:
    finished: dict[int, _Outcome]
    compile_error: str | None = None
    load_failure: _Outcome | None = None
    stopped_at: int | None = None
    stop_outcome: _Outcome | None = None


def _exit_code(returncode: int | None) -> int | None:
    """bwrap reports a signal as 128+N; a plain subprocess as -N. One form: 128+N."""
    if returncode is None:
        return None
    return 128 - returncode if returncode < 0 else returncode


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Attempt:
    """Watches one sandbox from spawn to exit."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        results: asyncio.StreamReader,
        info: asyncio.StreamReader | None,
        *,
        startup_s: float,
        load_s: float,
        test_s: float,
        raw_output_limit: int,
    ) -> None:
        self._proc = proc
        self._results = results
        self._info = info
        self._loop = asyncio.get_running_loop()
        self._load_s = load_s
        self._test_s = test_s
        self._raw_output_limit = raw_output_limit
        self._deadline = self._loop.time() + startup_s
        self._timeout: asyncio.Timeout | None = None
        self._phase: Literal["starting", "ready", "loading", "testing", "over"] = "starting"
        self._current: int | None = None
        self._begun_at = 0.0
        self._next_index = 0
        self._kill_reason: Literal["time", "output"] | None = None
        self._output_message: str | None = None
        self._killed_at: float | None = None
        self._tail = bytearray()
        self._harness_error: str | None = None
        self._sandbox_init: int | None = None  # pidfd of the sandbox's pid 1
        self.result = _AttemptResult(finished={})

    # -- watching ---------------------------------------------------------------------------

    async def watch(self) -> _AttemptResult:
        output = asyncio.create_task(self._drain_output())
        try:
            if self._info is not None:
                await self._read_info(self._info)
            try:
                async with asyncio.timeout_at(self._deadline) as timeout:
                    self._timeout = timeout
                    await self._read_results()
                    await self._proc.wait()
            except TimeoutError:
                self._kill("time")
            await self._reap()
            # EOF on the output pipe means every process that could write it is gone.
            try:
                async with asyncio.timeout(_DRAIN_GRACE_S):
                    await asyncio.shield(output)
            except TimeoutError:
                # Unsandboxed, a forked child may outlive the harness and hold the pipe; its
                # process group outlives the leader, so it can still be signalled.
                self._kill_group(after_exit=True)
        finally:
            if self._proc.returncode is None:  # cancelled: bwrap exits once its init is dead
                self._kill(None)
            output.cancel()
            if self._sandbox_init is not None:
                os.close(self._sandbox_init)
        return self._conclude()

    async def _read_info(self, info: asyncio.StreamReader) -> None:
        """bwrap's --info-fd: the host pid of the sandbox's init, written once at start."""
        try:
            async with asyncio.timeout_at(self._deadline):
                data = await info.read()
            child = json.loads(data).get("child-pid")
            if isinstance(child, int) and self._proc.returncode is None:
                self._sandbox_init = os.pidfd_open(child)
        except (TimeoutError, ValueError, AttributeError, OSError):
            pass  # fall back to killing bwrap's process group

    async def _read_results(self) -> None:
        while True:
            try:
                line = await self._results.readline()
            except ValueError:  # one record over the reader's limit: a huge return value
                self._output_message = "the return value is too large"
                self._kill("output")
                return
            if not line:
                return
            self._handle(line)

    async def _drain_output(self) -> None:
        stream = self._proc.stdout
        assert stream is not None
        total = 0
        while chunk := await stream.read(65536):
            total += len(chunk)
            self._tail += chunk
            del self._tail[:-_OUTPUT_TAIL_BYTES]
            if total > self._raw_output_limit and self._kill_reason is None:
                self._kill("output")

    async def _reap(self) -> None:
        try:
            async with asyncio.timeout(_REAP_GRACE_S):
                await self._proc.wait()
        except TimeoutError:
            self._kill_group()
            await self._proc.wait()

    def _set_deadline(self, seconds: float) -> None:
        self._deadline = self._loop.time() + seconds
        if self._timeout is not None:
            self._timeout.reschedule(self._deadline)

    def _kill(self, reason: Literal["time", "output"] | None) -> None:
        if reason is not None and self._kill_reason is None and self._phase != "over":
            self._kill_reason = reason
            self._killed_at = self._loop.time()
        if self._proc.returncode is not None:
            return
        if self._sandbox_init is not None:
            # Killing the sandbox's init ends its pid namespace (the kernel kills everything
            # in it) and lets bwrap reap it and exit: nothing is orphaned to the host's init.
            try:
                signal.pidfd_send_signal(self._sandbox_init, signal.SIGKILL)
                return
            except OSError:
                pass
        self._kill_group()

    def _kill_group(self, *, after_exit: bool = False) -> None:
        if self._proc.returncode is None or after_exit:
            try:
                # pgid == pid (start_new_session): bwrap, or the interpreter when unsandboxed.
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    # -- the protocol -------------------------------------------------------------------------

    def _handle(self, line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            return
        if not isinstance(record, dict):
            return
        event = record.get("event")
        phase = self._phase
        if event == "ready" and phase == "starting":
            self._phase = "ready"
            self._set_deadline(self._load_s)
        elif event == "compile_error" and phase == "ready":
            self.result.compile_error = str(record.get("detail") or "compile error")
            self._over()
        elif event == "loading" and phase == "ready":
            self._phase = "loading"
            self._set_deadline(self._load_s)
        elif event == "load_error" and phase == "loading":
            self.result.load_failure = _outcome_from(record)
            self._over()
        elif event == "loaded" and phase == "loading":
            self._phase = "testing"
            self._set_deadline(self._test_s)
        elif event == "begin" and phase == "testing" and self._current is None:
            if record.get("index") == self._next_index:
                self._current = self._next_index
                self._begun_at = self._loop.time()
                self._set_deadline(self._test_s)
        elif event == "end" and phase == "testing" and self._current is not None:
            if record.get("index") == self._current:
                self.result.finished[self._current] = _outcome_from(record)
                self._current = None
                self._next_index += 1
                self._set_deadline(self._test_s)
        elif event == "done" and phase == "testing" and self._current is None:
            self._over()
        elif event == "harness_error":
            self._harness_error = str(record.get("detail"))

    def _over(self) -> None:
        self._phase = "over"
        self._set_deadline(_EXIT_GRACE_S)

    # -- after the exit -----------------------------------------------------------------------

    def _conclude(self) -> _AttemptResult:
        if self._phase == "over":
            return self.result
        if self._phase == "starting":
            tail = self._tail.decode("utf-8", "replace").strip()[-1000:]
            raise JudgeFailure(
                f"the sandbox ended before the harness started "
                f"(exit {self._proc.returncode}): {tail or 'no output'}"
            )
        if self._harness_error is not None and self._kill_reason is None:
            raise JudgeFailure(f"the harness failed: {self._harness_error}")
        death = self._death()
        if self._phase in ("ready", "loading"):
            self.result.load_failure = death
        else:
            self.result.stopped_at = (
                self._current if self._current is not None else self._next_index
            )
            self.result.stop_outcome = death
        return self.result

    def _death(self) -> _Outcome:
        elapsed_ms: float | None = None
        if self._current is not None:
            end = self._killed_at if self._killed_at is not None else self._loop.time()
            elapsed_ms = (end - self._begun_at) * 1000.0
        if self._kill_reason == "time":
            return _Outcome("time", time_ms=elapsed_ms)
        if self._kill_reason == "output":
            return _Outcome("output", time_ms=elapsed_ms, message=self._output_message)
        code = _exit_code(self._proc.returncode)
        if code in (128 + signal.SIGXCPU, 128 + signal.SIGKILL):
            # Our own kills are recorded above. In the sandbox the interpreter is the pid
            # namespace's init, which nothing inside can kill; what is left is RLIMIT_CPU (its
            # hard limit is a SIGKILL).
            return _Outcome("time", time_ms=elapsed_ms)
        if any(marker in self._tail for marker in _HEAP_EXHAUSTED):
            return _Outcome("memory", time_ms=elapsed_ms)
        if code == 128 + signal.SIGXFSZ:
            message = "file size limit exceeded (SIGXFSZ)"
        elif code is not None and code > 128:
            message = f"killed by {_signal_name(code - 128)}"
        else:
            message = f"the program exited with status {code} before the test finished"
        return _Outcome(
            "crash",
            time_ms=elapsed_ms,
            error_type="RuntimeError",
            message=message,
            traceback=message,
        )


_STATUS_KINDS: dict[str, Kind] = {"ok": "value", "memory": "memory", "output": "output"}


def _outcome_from(record: dict[str, Any]) -> _Outcome:
    status = record.get("status")
    kind = _STATUS_KINDS.get(str(status), "error")

    def number(key: str) -> float | None:
        value = record.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if math.isfinite(value) else None
        return None

    memory = number("memory_kb")

    def text(key: str) -> str | None:
        value = record.get(key)
        return None if value is None else str(value)

    return _Outcome(
        kind=kind,
        value=record.get("value"),
        time_ms=number("time_ms"),
        memory_kb=int(memory) if memory is not None else None,
        error_type=text("error_type"),
        message=text("message"),
        traceback=text("traceback"),
        output=(text("output") or "")[:_KEPT_OUTPUT_CHARS] or None,
    )


def _close_fds(unclaimed: list[int], *fds: int) -> None:
    for fd in fds:
        if fd >= 0 and fd in unclaimed:
            unclaimed.remove(fd)
            os.close(fd)


async def _stream(
    fd: int, limit: int, transports: list[asyncio.BaseTransport]
) -> asyncio.StreamReader:
    """Read a pipe's parent end on the event loop (the transport takes the fd over)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
    )
    transports.append(transport)
    return reader


def _hidden_error_detail(kind: str, outcome: _Outcome) -> str:
    """A hidden test's runtime error in words chosen by the judge, not by the candidate."""
    if kind == "crash":  # not the signal or exit status: the candidate's code chose those
        return "the program ended before a hidden test finished"
    name = outcome.error_type if outcome.error_type in _STANDARD_ERRORS else None
    return f"{name} raised on a hidden test" if name else "an error was raised on a hidden test"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _check_function_name(name: str) -> None:
    if (
        not _IDENTIFIER.match(name)
        or keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or name in _JS_RESERVED
    ):
        raise ValueError(f"function_name {name!r} is not an identifier in Python and JavaScript")


def _json_value(value: Any, what: str, *, allow_nan: bool) -> Any:
    """A JSON round trip: tuples become lists, and what JSON cannot carry is refused here
    rather than inside the sandbox. Inputs may not hold NaN/Infinity (JavaScript's JSON
    cannot parse them); expected values may (Python can return them)."""
    try:
        return json.loads(json.dumps(value, allow_nan=allow_nan))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from exc


class Judge:
    """Runs submissions in the sandbox, at most `max_concurrency` at a time.

    Safe to share across the tasks of one service; the concurrency bound follows the event
    loop it is used on.
    """

    def __init__(self, settings: JudgeSettings | None = None) -> None:
        self.settings = settings or JudgeSettings()
        self._sandbox = Sandbox(self.settings)
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._runtimes: dict[str, Runtime | None] = {}

    # -- availability -------------------------------------------------------------------------

    def sandbox_available(self) -> bool:
        """Whether bubblewrap is present and works here (probed once, then cached; the
        first call blocks for the probe, ~20 ms)."""
        return self._sandbox.status().available

    @property
    def sandbox_unavailable_reason(self) -> str | None:
        """Why the sandbox is unavailable, or None when it works (probes like the above)."""
        return self._sandbox.status().reason

    # -- running ------------------------------------------------------------------------------

    async def run(
        self,
        *,
        language: str,
        source: str,
        function_name: str,
        tests: Sequence[HiddenTest],
        comparison: Comparison = "exact",
        time_limit_ms: int = 2000,
        memory_limit_mb: int = 256,
    ) -> JudgeReport:
        """Judge `source` against `tests`. Raises ValueError for an unsupported language or
        bad arguments, SandboxUnavailable when it cannot isolate the code (and the settings
        do not allow running without), JudgeFailure when the sandbox breaks."""
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")
        if comparison not in _COMPARISONS:
            raise ValueError(f"unknown comparison {comparison!r}")
        if time_limit_ms <= 0 or memory_limit_mb <= 0:
            raise ValueError("time_limit_ms and memory_limit_mb must be positive")
        _check_function_name(function_name)
        prepared = [
            _Prepared(
                test=test,
                args=_json_value(
                    list(test.input) if isinstance(test.input, list | tuple) else [test.input],
                    f"the input of test {test.test_id}",
                    allow_nan=False,
                ),
                expected=_json_value(
                    test.expected, f"the expected value of {test.test_id}", allow_nan=True
                ),
            )
            for test in tests
        ]
        status: SandboxStatus = await asyncio.to_thread(self._sandbox.status)
        if not status.available and not self.settings.allow_unsandboxed:
            raise SandboxUnavailable(status.reason or "the sandbox is unavailable")
        runtime = await self._runtime(language)

        async with self._semaphore():
            started = time.monotonic()
            outcomes, compile_error = await self._judge(
                runtime,
                source,
                function_name,
                prepared,
                time_limit_ms=time_limit_ms,
                memory_limit_mb=memory_limit_mb,
                sandboxed=status.available,
            )
            duration_ms = round((time.monotonic() - started) * 1000)
        results = [
            self._verdict(p, o, comparison, time_limit_ms, memory_limit_mb, compile_error)
            for p, o in zip(prepared, outcomes, strict=True)
        ]
        return JudgeReport.build(
            language=language,
            tests=[p.test for p in prepared],
            results=results,
            compile_error=compile_error,
            duration_ms=duration_ms,
            sandboxed=status.available,
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.settings.max_concurrency))
        return self._slots[1]

    async def _runtime(self, language: str) -> Runtime:
        if language not in self._runtimes:
            self._runtimes[language] = await asyncio.to_thread(resolve, language, self.settings)
        runtime = self._runtimes[language]
        if runtime is None:
            raise SandboxUnavailable(f"no interpreter for {language} is installed")
        return runtime

    async def _judge(
        self,
        runtime: Runtime,
        source: str,
        function_name: str,
        prepared: Sequence[_Prepared],
        *,
        time_limit_ms: int,
        memory_limit_mb: int,
        sandboxed: bool,
    ) -> tuple[list[_Outcome], str | None]:
        total = len(prepared)
        outcomes: list[_Outcome | None] = [None] * total
        compile_error: str | None = None
        start, restarts = 0, 0
        while start < total:
            attempt = await self._attempt(
                runtime,
                source,
                function_name,
                prepared[start:],
                time_limit_ms=time_limit_ms,
                memory_limit_mb=memory_limit_mb,
                sandboxed=sandboxed,
            )
            if attempt.compile_error is not None:
                compile_error = attempt.compile_error
                outcomes[start:] = [_Outcome("compile")] * (total - start)
                break
            if attempt.load_failure is not None:
                outcomes[start:] = [attempt.load_failure] * (total - start)
                break
            for offset, outcome in attempt.finished.items():
                outcomes[start + offset] = outcome
            if attempt.stopped_at is None or attempt.stop_outcome is None:
                break
            stopped = start + attempt.stopped_at
            outcomes[stopped] = attempt.stop_outcome
            start = stopped + 1
            if start < total and restarts >= self.settings.max_restarts:
                skipped = replace(attempt.stop_outcome, time_ms=None, not_run=True)
                outcomes[start:] = [skipped] * (total - start)
                break
            restarts += 1
        missing = _Outcome(
            "crash",
            error_type="RuntimeError",
            message="no result was reported for this test",
            traceback="no result was reported for this test",
        )
        return [o if o is not None else missing for o in outcomes], compile_error

    async def _attempt(
        self,
        runtime: Runtime,
        source: str,
        function_name: str,
        prepared: Sequence[_Prepared],
        *,
        time_limit_ms: int,
        memory_limit_mb: int,
        sandboxed: bool,
    ) -> _AttemptResult:
        s = self.settings
        job = {
            "function_name": function_name,
            "output_limit_bytes": s.output_limit_bytes,
            "result_limit_bytes": s.result_limit_bytes,
            "tests": [{"args": p.args} for p in prepared],
        }
        files = {
            runtime.harness_name: runtime.harness_source,
            runtime.solution_name: source.encode("utf-8", "replace"),
            "job.json": json.dumps(job, allow_nan=True).encode(),
        }
        test_s = time_limit_ms * s.wall_clock_factor / 1000.0
        cpu_seconds = min(
            s.max_cpu_seconds,
            math.ceil(len(prepared) * time_limit_ms / 1000.0 + test_s) + _STARTUP_CPU_S,
        )
        limits = Limits(
            cpu_seconds=cpu_seconds,
            address_space_bytes=(memory_limit_mb + runtime.address_space_overhead_mb) << 20,
            processes=s.max_processes,
            open_files=s.max_open_files,
            file_size_bytes=s.file_size_limit_bytes,
        )
        # Parent ends are read here; child ends go to bwrap (results: through to the harness;
        # info: bwrap's own report of the sandbox's init pid).
        results_read, results_write = os.pipe()
        info_read, info_write = os.pipe() if sandboxed else (-1, -1)
        unclaimed = [results_read, results_write, info_read, info_write]
        transports: list[asyncio.BaseTransport] = []
        launch: Launch | None = None
        try:
            launch = await asyncio.to_thread(
                self._sandbox.launch,
                runtime=runtime,
                files=files,
                limits=limits,
                results_fd=results_write,
                info_fd=info_write if sandboxed else None,
                memory_limit_mb=memory_limit_mb,
                sandboxed=sandboxed,
            )
            try:
                proc = await asyncio.create_subprocess_exec(
                    *launch.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    pass_fds=launch.pass_fds,
                    env=launch.env,
                    cwd=launch.cwd,
                    start_new_session=True,
                    **launch.user_kwargs,
                )
            finally:
                _close_fds(unclaimed, results_write, info_write)
                launch.close_parent_fds()
            results = await _stream(results_read, s.result_limit_bytes + 65536, transports)
            unclaimed.remove(results_read)
            info = None
            if sandboxed:
                info = await _stream(info_read, 65536, transports)
                unclaimed.remove(info_read)
            return await _Attempt(
                proc,
                results,
                info,
                startup_s=s.startup_timeout_ms / 1000.0,
                load_s=test_s + 1.0,
                test_s=test_s,
                raw_output_limit=s.output_limit_bytes + _RAW_OUTPUT_SLACK_BYTES,
            ).watch()
        finally:
            for transport in transports:
                transport.close()
            _close_fds(unclaimed, *unclaimed)
            if launch is not None:
                await asyncio.to_thread(launch.remove_files)

    def _verdict(
        self,
        prepared: _Prepared,
        outcome: _Outcome,
        comparison: Comparison,
        time_limit_ms: int,
        memory_limit_mb: int,
        compile_error: str | None,
    ) -> TestResult:
        test = prepared.test
        time_ms = None if outcome.time_ms is None else max(0, round(outcome.time_ms))
        memory_kb = outcome.memory_kb
        verdict: Verdict
        detail: str | None = None
        kind = outcome.kind
        if kind in ("value", "error"):
            if time_ms is not None and time_ms > time_limit_ms:
                kind = "time"
            elif memory_kb is not None and memory_kb > memory_limit_mb * 1024:
                kind = "memory"
        if kind == "compile":
            verdict, detail = "compile_error", _clip(compile_error or "", _VISIBLE_DETAIL_CHARS)
        elif kind == "time":
            verdict, detail = "time_limit_exceeded", f"time limit of {time_limit_ms} ms exceeded"
        elif kind == "memory":
            verdict = "memory_limit_exceeded"
            detail = f"memory limit of {memory_limit_mb} MB exceeded"
        elif kind == "output":
            verdict = "output_limit_exceeded"
            detail = outcome.message or (
                f"output limit of {self.settings.output_limit_bytes} bytes exceeded"
            )
        elif kind in ("error", "crash"):
            verdict = "runtime_error"
            if test.visible:
                detail = _clip(outcome.traceback or outcome.message or "", _VISIBLE_DETAIL_CHARS)
            else:
                detail = _hidden_error_detail(kind, outcome)
        elif matches(prepared.expected, outcome.value, comparison):
            verdict = "accepted"
        else:
            verdict = "wrong_answer"
            if test.visible:
                detail = f"expected {preview(prepared.expected)}, got {preview(outcome.value)}"
        if outcome.not_run:
            detail = f"not run: an earlier test ended the sandbox ({detail or verdict})"
            time_ms, memory_kb = None, None
        return TestResult(
            test_id=test.test_id,
            verdict=verdict,
            time_ms=time_ms,
            memory_kb=memory_kb,
            detail=detail,
            visible=test.visible,
            # what the code printed and returned, for a visible example only: on a hidden
            # test either could spell the hidden input
            output=outcome.output if test.visible else None,
            got=preview(outcome.value) if test.visible and kind == "value" else None,
        )
