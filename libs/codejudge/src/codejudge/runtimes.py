"""The interpreters that run submissions, and how each one is started inside the sandbox.

Python runs on the system interpreter (`/usr/bin/python3`) when there is one, not on the
service's virtualenv: the venv lives under the service's home, which the sandbox does not
show, and the harness needs nothing but the standard library. Without a system Python, the
real interpreter behind `sys.executable` is used and its installation prefix is bound
read-only into the sandbox (it must then be readable by the sandbox user).

JavaScript runs on `node`. Its V8 heap is capped with `--max-old-space-size` (an exhausted
heap aborts node with "JavaScript heap out of memory", reported as memory_limit_exceeded);
RLIMIT_AS only backstops allocations outside the heap (ArrayBuffers), because V8 reserves far
more address space than it uses.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from codejudge.settings import JudgeSettings

LANGUAGES = ("python", "javascript")

_SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True, slots=True)
class Runtime:
    language: str
    executable: str
    """Real path on the host; the sandbox shows it at the same path."""
    extra_binds: tuple[str, ...]
    """Host directories the interpreter needs besides /usr (bound read-only, same path)."""
    harness_source: bytes
    harness_name: str
    solution_name: str
    address_space_overhead_mb: int
    env: tuple[tuple[str, str], ...]

    def argv(
        self, *, harness: str, job: str, solution: str, results_fd: int, memory_limit_mb: int
    ) -> list[str]:
        if self.language == "python":
            # -S: no site-packages; -B: no .pyc writes. Not -I/-E: PYTHONHASHSEED=0 must be
            # read so that set and dict-of-set orders are the same on every run.
            flags = ["-S", "-B"]
        else:
            flags = [
                f"--max-old-space-size={memory_limit_mb}",
                "--v8-pool-size=2",
                "--no-warnings",
            ]
        return [self.executable, *flags, harness, job, solution, str(results_fd)]


def _harness(name: str) -> bytes:
    return (resources.files("codejudge") / "harnesses" / name).read_bytes()


def _under_usr(path: str) -> bool:
    return path == "/usr" or path.startswith("/usr/")


def _install_prefix(executable: str) -> str:
    """`/opt/node/bin/node` -> `/opt/node`: what must be visible for the binary to find its
    libraries."""
    return str(Path(executable).parent.parent)


def _python(settings: JudgeSettings) -> Runtime | None:
    extra: tuple[str, ...] = ()
    if settings.python_executable:
        executable = shutil.which(settings.python_executable)
        if executable is None:
            return None
        executable = os.path.realpath(executable)
        if not _under_usr(executable):
            extra = (_install_prefix(executable),)
    elif os.path.exists(_SYSTEM_PYTHON):
        executable = os.path.realpath(_SYSTEM_PYTHON)
    else:
        base = getattr(sys, "_base_executable", None) or sys.executable
        executable = os.path.realpath(base)
        if not _under_usr(executable):
            extra = (os.path.realpath(sys.base_prefix),)
    return Runtime(
        language="python",
        executable=executable,
        extra_binds=extra,
        harness_source=_harness("python_harness.py"),
        harness_name="harness.py",
        solution_name="solution.py",
        address_space_overhead_mb=settings.python_address_space_overhead_mb,
        env=(
            ("PYTHONHASHSEED", "0"),
            ("PYTHONIOENCODING", "utf-8"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            # glibc gives each thread a 64 MB arena of address space; under RLIMIT_AS a few
            # threads would exhaust the limit without using memory.
            ("MALLOC_ARENA_MAX", "2"),
        ),
    )


def _node(settings: JudgeSettings) -> Runtime | None:
    found = shutil.which(settings.node_executable or "node")
    if found is None:
        return None
    executable = os.path.realpath(found)
    return Runtime(
        language="javascript",
        executable=executable,
        extra_binds=() if _under_usr(executable) else (_install_prefix(executable),),
        harness_source=_harness("javascript_harness.js"),
        harness_name="harness.js",
        solution_name="solution.js",
        address_space_overhead_mb=settings.node_address_space_overhead_mb,
        env=(("UV_THREADPOOL_SIZE", "1"),),
    )


def resolve(language: str, settings: JudgeSettings) -> Runtime | None:
    """The runtime for `language`, or None when its interpreter is not installed."""
    if language == "python":
        return _python(settings)
    if language == "javascript":
        return _node(settings)
    raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")
