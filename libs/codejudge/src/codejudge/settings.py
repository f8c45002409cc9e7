"""What an operator can tune about the judge.

A frozen dataclass rather than pydantic-settings: the judge is a library, and the service that
embeds it (ai-runner, interviews) owns its environment variables and passes values in. Every
limit has a default that is safe on a shared host; the defaults were measured on this machine
(see the comments beside the address-space allowances).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    max_concurrency: int = 2
    """How many submissions run at once; each one is a sandbox with its own CPU and memory."""

    allow_unsandboxed: bool = False
    """Development only: without a working bubblewrap, run the harness in a plain subprocess
    with rlimits and a cleared environment. It does NOT hide the filesystem or the network."""

    output_limit_bytes: int = 64_000
    """What a submission may print per test (prints are counted, then discarded)."""

    result_limit_bytes: int = 1_000_000
    """Largest JSON-encoded return value of one test."""

    wall_clock_factor: float = 3.0
    """A test is killed after `time_limit_ms * wall_clock_factor` of wall time. The verdict
    itself uses CPU time; the factor leaves room for a loaded host without letting a sleeping
    or blocked submission hold a slot forever."""

    startup_timeout_ms: int = 10_000
    """Budget for the interpreter to start inside the sandbox (a judge failure if exceeded)."""

    max_cpu_seconds: int = 60
    """Upper bound of RLIMIT_CPU for one sandbox, whatever the number of tests."""

    max_processes: int = 32
    """RLIMIT_NPROC inside the sandbox. Linux counts threads, and node needs about ten."""

    max_open_files: int = 64
    """RLIMIT_NOFILE inside the sandbox (node opens about twenty at start)."""

    file_size_limit_bytes: int = 1_048_576
    """RLIMIT_FSIZE: the largest file a submission may write."""

    tmp_size_bytes: int = 1_048_576
    """Size of the private tmpfs mounted on /tmp inside the sandbox."""

    python_address_space_overhead_mb: int = 64
    """Added to the memory limit for RLIMIT_AS of Python: the interpreter maps ~13 MB."""

    node_address_space_overhead_mb: int = 1280
    """Added to the memory limit for RLIMIT_AS of node. V8 reserves ~700 MB of address space
    at start and more as the heap grows; with less than ~1 GB of headroom node dies of a
    failed reservation long before its heap limit (measured with node 20)."""

    max_restarts: int = 2
    """After a sandbox is killed (time, output) or crashes (heap exhausted, signal), the
    remaining tests run in a fresh sandbox at most this many times; after that they are
    reported with the verdict that ended the last sandbox, without running."""

    sandbox_uid: int = 65534
    sandbox_gid: int = 65534
    """When the service runs as root, bubblewrap itself is started as this user, so the
    sandbox's processes belong to it on the host (RLIMIT_NPROC applies; root ignores it)."""

    seccomp_filter: bool = True
    """Install codejudge.seccomp's filter in the sandbox (bubblewrap --seccomp): ptrace,
    mounts, namespaces, keyrings, eBPF, io_uring... fail with EPERM. Off only to compare."""

    bwrap_path: str = "bwrap"
    prlimit_path: str = "prlimit"
    python_executable: str | None = None
    """Default: /usr/bin/python3 if present, else the real interpreter behind sys.executable."""
    node_executable: str | None = None
    """Default: `node` on PATH."""

    work_dir: str | None = None
    """Where the unsandboxed fallback writes a submission's files (default: the temp dir)."""

    def __post_init__(self) -> None:
        positive = {
            "max_concurrency": self.max_concurrency,
            "output_limit_bytes": self.output_limit_bytes,
            "result_limit_bytes": self.result_limit_bytes,
            "startup_timeout_ms": self.startup_timeout_ms,
            "max_cpu_seconds": self.max_cpu_seconds,
            "max_processes": self.max_processes,
            "max_open_files": self.max_open_files,
            "file_size_limit_bytes": self.file_size_limit_bytes,
            "tmp_size_bytes": self.tmp_size_bytes,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.wall_clock_factor < 1.0:
            raise ValueError("wall_clock_factor must be at least 1.0")
        if self.max_restarts < 0:
            raise ValueError("max_restarts must not be negative")
        if self.python_address_space_overhead_mb < 0 or self.node_address_space_overhead_mb < 0:
            raise ValueError("address-space overheads must not be negative")
