"""Runs inside the sandbox: loads a candidate's Python solution and calls its function once
per test, reporting each outcome as one JSON line on the results fd.

Not imported by the judge: the host copies this file into the sandbox and runs it with the
system interpreter, so it uses the standard library only and stays compatible with older
Python 3 versions. It never sees the expected values (the host compares), so nothing the
candidate's code can read here reveals an answer.

Usage: python3 -S -B python_harness.py JOB_JSON SOLUTION_PY RESULTS_FD
"""

from __future__ import annotations

import gc
import io
import json
import linecache
import os
import sys
import time
import traceback
import types
from typing import Any

SOLUTION_FILENAME = "solution.py"
MAX_MESSAGE_CHARS = 1000
MAX_TRACEBACK_LINES = 12


class OutputLimitExceeded(BaseException):
    """Raised from print() once a test has printed more than its share (BaseException so
    that a bare `except Exception` in the submission does not swallow it)."""


KEPT_OUTPUT_CHARS = 2000  # of each test's prints, reported with its result


class CappedSink(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: counts what the submission prints, keeps the
    first KEPT_OUTPUT_CHARS of each test's (the judge shows them for visible examples only)
    and drops the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.exceeded = False
        self.kept: list[str] = []
        self.kept_chars = 0

    def reset(self) -> None:
        self.used, self.exceeded = 0, False
        self.kept, self.kept_chars = [], 0

    def take(self) -> str:
        return "".join(self.kept)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.kept_chars < KEPT_OUTPUT_CHARS:
            piece = str(text)[: KEPT_OUTPUT_CHARS - self.kept_chars]
            self.kept.append(piece)
            self.kept_chars += len(piece)
        self.used += len(text)
        if self.used > self.limit:
            self.exceeded = True
            raise OutputLimitExceeded
        return len(text)

    def flush(self) -> None:
        pass


class Reporter:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        # The submission may run os.system(); it must not inherit the results channel.
        os.set_inheritable(fd, False)

    def emit(self, record: dict[str, Any], raw_value: str | None = None) -> None:
        line = json.dumps(record, allow_nan=True)
        if raw_value is not None:  # already JSON: spliced in rather than encoded twice
            line = line[:-1] + ', "value": ' + raw_value + "}"
        data = (line + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def reset_peak_memory() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM, the peak resident set size
    except OSError:
        pass


def peak_memory_kb() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError, ValueError):
        return None


def describe(exc: BaseException) -> dict[str, Any]:
    """Exception type, message and the last lines of the traceback, limited to the frames of
    the submission (the harness's own frames say nothing to the candidate)."""
    message = str(exc)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "..."
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == SOLUTION_FILENAME
    ]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines.extend(traceback.format_list(frames))
    lines.append(f"{type(exc).__name__}: {message}\n" if message else f"{type(exc).__name__}\n")
    text = "".join(lines).splitlines()
    return {
        "error_type": type(exc).__name__,
        "message": message,
        "traceback": "\n".join(text[-MAX_TRACEBACK_LINES:]),
    }


def to_json(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    raise TypeError(f"a value of type {type(value).__name__} is not JSON-serializable")


def find_function(namespace: dict[str, Any], name: str) -> Any:
    candidate = namespace.get(name)
    if callable(candidate) and not isinstance(candidate, type):
        return candidate
    # LeetCode habit: `class Solution: def two_sum(self, ...)`.
    holder = namespace.get("Solution")
    if isinstance(holder, type) and callable(getattr(holder, name, None)):
        return getattr(holder(), name)
    return None


def main() -> None:
    job_path, solution_path, results_fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reporter = Reporter(results_fd)
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    with open(solution_path, encoding="utf-8", errors="replace") as fh:
        source = fh.read()
    function_name: str = job["function_name"]
    sink = CappedSink(int(job["output_limit_bytes"]))
    result_limit = int(job["result_limit_bytes"])
    harness_pid = os.getpid()
    reporter.emit({"event": "ready"})

    try:
        code = compile(source, SOLUTION_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        reporter.emit({"event": "compile_error", "detail": detail[-4000:]})
        os._exit(0)
    linecache.cache[SOLUTION_FILENAME] = (
        len(source),
        None,
        source.splitlines(True),
        SOLUTION_FILENAME,
    )

    module = types.ModuleType("solution")
    module.__file__ = SOLUTION_FILENAME
    sys.modules["solution"] = module
    sys.stdin = io.StringIO("")
    sys.stdout = sys.stderr = sink
    reporter.emit({"event": "loading"})
    status, info = "ok", {}
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the submission is the point # nosec B102
    except OutputLimitExceeded:
        status = "output"
    except MemoryError:
        status = "memory"
    except BaseException as exc:  # noqa: BLE001 - the submission's error, reported
        status, info = "error", describe(exc)
    if os.getpid() != harness_pid:
        os._exit(0)  # a child the submission forked while loading: it must not report
    if status == "ok" and sink.exceeded:
        status = "output"
    function = None
    if status == "ok":
        try:
            function = find_function(module.__dict__, function_name)
        except BaseException as exc:  # noqa: BLE001 - Solution() is the submission's code
            status, info = "error", describe(exc)
    if status == "ok" and function is None:
        status = "error"
        info = {
            "error_type": "NameError",
            "message": f"function {function_name!r} is not defined",
            "traceback": f"NameError: function {function_name!r} is not defined",
        }
    if status != "ok" or function is None:
        reporter.emit({"event": "load_error", "status": status, **info})
        os._exit(0)
    reporter.emit({"event": "loaded"})

    for index, test in enumerate(job["tests"]):
        args = test["args"]
        gc.collect()
        reset_peak_memory()
        sink.reset()
        reporter.emit({"event": "begin", "index": index})
        record: dict[str, Any] = {"event": "end", "index": index}
        value: Any = None
        encoded: str | None = None
        cpu_start = time.process_time()
        try:
            value = function(*args)
            record["status"] = "ok"
        except OutputLimitExceeded:
            record["status"] = "output"
        except MemoryError:
            value = None
            record["status"] = "memory"
        except BaseException as exc:  # noqa: BLE001 - the submission's error, reported
            record.update(status="error", **describe(exc))
        cpu_ms = (time.process_time() - cpu_start) * 1000.0
        if os.getpid() != harness_pid:
            os._exit(0)  # a forked child returning into the harness: it must not report
        if sink.exceeded:
            record["status"] = "output"
        if sink.kept_chars:
            record["output"] = sink.take()
        record["time_ms"] = round(cpu_ms, 3)
        record["memory_kb"] = peak_memory_kb()
        if record["status"] == "ok":
            try:
                encoded = json.dumps(value, default=to_json, allow_nan=True)
            except MemoryError:
                record["status"] = "memory"
            except (TypeError, ValueError, RecursionError) as exc:
                record.update(
                    status="error",
                    error_type="TypeError",
                    message=f"the return value cannot be reported: {exc}",
                    traceback=f"TypeError: the return value cannot be reported: {exc}",
                )
            else:
                if len(encoded) > result_limit:
                    encoded = None
                    record["status"] = "output"
                    record["message"] = f"the return value is larger than {result_limit} bytes"
        value = None
        reporter.emit(record, encoded if record["status"] == "ok" else None)
    reporter.emit({"event": "done"})
    os._exit(0)  # skips the submission's atexit hooks and stray threads


if __name__ == "__main__":
    main()
