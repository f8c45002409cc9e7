"""Where a submission runs: a bubblewrap sandbox, or (development only) a plain subprocess.

The bubblewrap sandbox:

- new user, pid, network, IPC, UTS and cgroup namespaces; nested user namespaces disabled
  (`--disable-userns`), all capabilities dropped, a new session (no TIOCSTI into the
  service's terminal), killed with the judge (`--die-with-parent`);
- the interpreter is the pid namespace's init (`--as-pid-1`): when it exits or is killed,
  the kernel kills everything the submission started and bubblewrap reaps it before exiting.
  (With bubblewrap's own init, bwrap exits on its init's report and leaves the init as a
  zombie for the host's PID 1, which in a container is the service and never reaps it.)
  As init, the interpreter ignores default-action signals from inside the namespace, so the
  submission cannot kill it, and RLIMIT_CPU acts through its hard limit (SIGKILL);
- the network namespace has only a loopback nobody listens on;
- a read-only view of /usr (and the /bin, /lib... symlinks or directories), /etc/ld.so.cache,
  the interpreter's own prefix if it is not under /usr, and nothing else of the host: no
  /etc (so no /etc/shadow, no resolv.conf), no /home, /root, /proc of the host, /sys;
- the harness, the solution and the test inputs as read-only files under /judge, copied in
  from memfds (`--ro-bind-data`): nothing is written to the host's disk, and nothing on the
  host needs to be readable by the sandbox user;
- a private 1 MB tmpfs on /tmp; /, /dev and /judge read-only (the /dev tmpfs would otherwise
  be an unbounded place to store data in the host's memory);
- an environment with PATH, LANG, HOME and the interpreter's own variables only;
- a seccomp filter (codejudge.seccomp, bubblewrap's --seccomp) on the interpreter and all it
  starts: ptrace, mount and namespace calls, keyrings, eBPF, perf, userfaultfd, io_uring,
  modules and the like fail with EPERM.

The availability probe starts a real sandbox and checks what it got, not only that it
started: its user, pid, network, IPC, UTS and mount namespaces differ from the service's,
and the seccomp filter is on. A bubblewrap that silently shares one of them (an old or
patched build, a wrapper script) makes the sandbox unavailable instead of trusted.

When the service runs as root, bubblewrap itself is started as an unprivileged user
(`sandbox_uid`, 65534 by default): as root, bwrap would map the sandbox user to host root, and
RLIMIT_NPROC does not apply to root. Started as that user, it maps it to itself.

Resource limits are set by `prlimit` inside the sandbox, just before the interpreter starts,
so they bind the submission and not bubblewrap. RLIMIT_NPROC is counted per user *per user
namespace*, so each sandbox has its own process budget even with one shared uid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codejudge.runtimes import Runtime
from codejudge.seccomp import SeccompUnsupported, build_filter
from codejudge.settings import JudgeSettings

SANDBOX_DIR = "/judge"
SANDBOX_TMP = "/tmp"  # noqa: S108 - the sandbox's private tmpfs, not the host's # nosec B108
_ROOT_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_PROBE_TIMEOUT_S = 15.0
# namespaces the sandbox must not share with the service
NAMESPACES = ("user", "pid", "net", "ipc", "uts", "mnt")
_PROBE_SCRIPT = (
    "for ns in " + " ".join(NAMESPACES) + "; do echo ns $ns $(readlink /proc/self/ns/$ns); done; "
    "grep '^Seccomp:' /proc/self/status"
)


def isolation_problem(report: str, host: Mapping[str, str], seccomp: bool) -> str | None:
    """What the probe's report (inside the sandbox) says is not isolated, or None."""
    seen: dict[str, str] = {}
    seccomp_mode = None
    for line in report.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "ns":
            seen[parts[1]] = parts[2]
        elif parts[:1] == ["Seccomp:"] and len(parts) == 2:
            seccomp_mode = parts[1]
    for name in NAMESPACES:
        if name not in seen:
            return f"the sandbox did not report its {name} namespace"
        if host.get(name) and seen[name] == host[name]:
            return f"the sandbox shares the service's {name} namespace ({seen[name]})"
    if seccomp and seccomp_mode != "2":
        return f"the sandbox runs without its seccomp filter (Seccomp: {seccomp_mode})"
    return None


def host_namespaces() -> dict[str, str]:
    found = {}
    for name in NAMESPACES:
        try:
            found[name] = os.readlink(f"/proc/self/ns/{name}")
        except OSError:
            continue
    return found


class SandboxUnavailable(RuntimeError):
    """The judge cannot isolate a submission here (bubblewrap missing or not working, or the
    language's interpreter not installed), and the settings do not allow running without."""


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    available: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """rlimits of the interpreter process (and what it forks)."""

    cpu_seconds: int
    address_space_bytes: int
    processes: int | None
    open_files: int
    file_size_bytes: int

    def prlimit_argv(self, prlimit: str) -> list[str]:
        argv = [
            prlimit,
            # SIGXCPU at the soft limit (reported as time_limit_exceeded), SIGKILL a second on.
            f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 1}",
            f"--as={self.address_space_bytes}",
            f"--nofile={self.open_files}",
            f"--fsize={self.file_size_bytes}",
            "--core=0",
        ]
        if self.processes is not None:
            argv.append(f"--nproc={self.processes}")
        return [*argv, "--"]


@dataclass(slots=True)
class Launch:
    """Everything `asyncio.create_subprocess_exec` needs to start one sandboxed harness."""

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...]
    cwd: str | None
    user_kwargs: dict[str, Any]
    sandboxed: bool
    parent_fds: list[int] = field(default_factory=list)
    """The parent's copies of the data memfds: closed once the child has its own."""
    directory: str | None = None
    """The unsandboxed fallback's temp dir, removed after the run."""

    def close_parent_fds(self) -> None:
        while self.parent_fds:
            os.close(self.parent_fds.pop())

    def remove_files(self) -> None:
        """Blocking (a directory removal): call it off the event loop."""
        self.close_parent_fds()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _base_env(runtime: Runtime) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": SANDBOX_TMP}
    env.update(dict(runtime.env))
    return env


def _runs_as_root() -> bool:
    return os.geteuid() == 0


# One probe per process and configuration: services build a Judge per request at times.
_probes: dict[tuple[object, ...], SandboxStatus] = {}
_probe_lock = threading.Lock()


class Sandbox:
    def __init__(self, settings: JudgeSettings) -> None:
        self._settings = settings

    # -- availability -------------------------------------------------------------------

    def status(self) -> SandboxStatus:
        """Probe once (blocking, ~20 ms): start a real sandbox and run `true` in it."""
        s = self._settings
        key = (
            s.bwrap_path,
            s.prlimit_path,
            s.sandbox_uid,
            s.sandbox_gid,
            s.tmp_size_bytes,
            s.seccomp_filter,
        )
        with _probe_lock:
            if key not in _probes:
                _probes[key] = self._probe()
            return _probes[key]

    def _probe(self) -> SandboxStatus:
        bwrap = shutil.which(self._settings.bwrap_path)
        if bwrap is None:
            return SandboxStatus(False, f"bubblewrap not found ({self._settings.bwrap_path!r})")
        prlimit = self.prlimit()
        if prlimit is None:
            return SandboxStatus(False, f"prlimit not found ({self._settings.prlimit_path!r})")
        try:
            seccomp_fd = self.seccomp_fd()
        except SeccompUnsupported as exc:
            return SandboxStatus(False, str(exc))
        options = self._bwrap_options(
            env={"PATH": "/usr/bin:/bin"}, binds=(), data={}, seccomp_fd=seccomp_fd
        )
        argv = [bwrap, *options, prlimit, "--nofile=16", "--", "sh", "-c", _PROBE_SCRIPT]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_PROBE_TIMEOUT_S,
                check=False,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
                **self.user_kwargs(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return SandboxStatus(False, f"bubblewrap could not start: {exc}")
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()[-500:]
            return SandboxStatus(
                False, f"bubblewrap failed (exit {done.returncode}): {message or 'no message'}"
            )
        problem = isolation_problem(
            done.stdout.decode("utf-8", "replace"), host_namespaces(), self._settings.seccomp_filter
        )
        if problem is not None:
            return SandboxStatus(False, problem)
        return SandboxStatus(True)

    def seccomp_fd(self) -> int | None:
        """A memfd holding the compiled filter, positioned at its start (bubblewrap reads
        it to the end), or None when the settings turn the filter off."""
        if not self._settings.seccomp_filter:
            return None
        program = build_filter()
        fd = os.memfd_create("codejudge-seccomp")
        try:
            os.write(fd, program)
            os.lseek(fd, 0, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def prlimit(self) -> str | None:
        found = shutil.which(self._settings.prlimit_path)
        return os.path.realpath(found) if found else None

    def drop_privileges_argv(self) -> list[str]:
        """Run as the sandbox user via setpriv (util-linux) rather than the `user=`/`group=`
        arguments of asyncio's subprocess API, which uvloop (what uvicorn runs on) rejects."""
        if not _runs_as_root():
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise SandboxUnavailable("setpriv (util-linux) is needed to drop root privileges")
        return [
            os.path.realpath(setpriv),
            f"--reuid={self._settings.sandbox_uid}",
            f"--regid={self._settings.sandbox_gid}",
            "--clear-groups",
            "--",
        ]

    def user_kwargs(self) -> dict[str, Any]:
        if not _runs_as_root():
            return {}
        return {
            "user": self._settings.sandbox_uid,
            "group": self._settings.sandbox_gid,
            "extra_groups": [],
        }

    # -- bubblewrap -----------------------------------------------------------------------

    def _bwrap_options(
        self,
        *,
        env: Mapping[str, str],
        binds: tuple[str, ...],
        data: Mapping[str, int],
        info_fd: int | None = None,
        seccomp_fd: int | None = None,
    ) -> list[str]:
        s = self._settings
        options = [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--disable-userns",
            "--die-with-parent",
            "--as-pid-1",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--uid",
            str(s.sandbox_uid),
            "--gid",
            str(s.sandbox_gid),
            "--hostname",
            "judge",
            "--clearenv",
        ]
        for key, value in env.items():
            options += ["--setenv", key, value]
        options += ["--ro-bind", "/usr", "/usr"]
        for name in _ROOT_ENTRIES:
            entry = Path("/") / name
            if entry.is_symlink():
                options += ["--symlink", os.readlink(entry), str(entry)]
            elif entry.is_dir():
                options += ["--ro-bind", str(entry), str(entry)]
        options += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        for path in binds:
            options += ["--ro-bind", path, path]
        options += ["--proc", "/proc", "--dev", "/dev"]
        options += ["--size", str(s.tmp_size_bytes), "--tmpfs", SANDBOX_TMP]
        for name, fd in data.items():
            options += ["--perms", "0444", "--ro-bind-data", str(fd), f"{SANDBOX_DIR}/{name}"]
        options += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SANDBOX_TMP]
        if info_fd is not None:
            options += ["--info-fd", str(info_fd)]
        if seccomp_fd is not None:
            options += ["--seccomp", str(seccomp_fd)]
        options.append("--")
        return options

    def launch(
        self,
        *,
        runtime: Runtime,
        files: Mapping[str, bytes],
        limits: Limits,
        results_fd: int,
        info_fd: int | None,
        memory_limit_mb: int,
        sandboxed: bool,
    ) -> Launch:
        """Materialize the files and build the command line. `files` maps names to contents;
        they appear under /judge in the sandbox (or in a private temp dir without one)."""
        prlimit = self.prlimit()
        if prlimit is None:
            raise SandboxUnavailable(f"prlimit not found ({self._settings.prlimit_path!r})")
        if sandboxed:
            return self._launch_bwrap(
                runtime, files, limits, results_fd, info_fd, memory_limit_mb, prlimit
            )
        return self._launch_plain(runtime, files, limits, results_fd, memory_limit_mb, prlimit)

    def _launch_bwrap(
        self,
        runtime: Runtime,
        files: Mapping[str, bytes],
        limits: Limits,
        results_fd: int,
        info_fd: int | None,
        memory_limit_mb: int,
        prlimit: str,
    ) -> Launch:
        bwrap = shutil.which(self._settings.bwrap_path)
        if bwrap is None:
            raise SandboxUnavailable(f"bubblewrap not found ({self._settings.bwrap_path!r})")
        fds: dict[str, int] = {}
        try:
            for name, content in files.items():
                fd = os.memfd_create(f"codejudge-{name}")
                fds[name] = fd
                os.write(fd, content)
                os.lseek(fd, 0, os.SEEK_SET)
        except BaseException:
            for fd in fds.values():
                os.close(fd)
            raise
        try:
            seccomp_fd = self.seccomp_fd()
        except BaseException:
            for fd in fds.values():
                os.close(fd)
            raise
        extra_fds = [] if seccomp_fd is None else [seccomp_fd]
        env = _base_env(runtime)
        command = runtime.argv(
            harness=f"{SANDBOX_DIR}/{runtime.harness_name}",
            job=f"{SANDBOX_DIR}/job.json",
            solution=f"{SANDBOX_DIR}/{runtime.solution_name}",
            results_fd=results_fd,
            memory_limit_mb=memory_limit_mb,
        )
        argv = [
            *self.drop_privileges_argv(),
            bwrap,
            *self._bwrap_options(
                env=env,
                binds=runtime.extra_binds,
                data=fds,
                info_fd=info_fd,
                seccomp_fd=seccomp_fd,
            ),
            *limits.prlimit_argv(prlimit),
            *command,
        ]
        return Launch(
            argv=argv,
            env={"PATH": "/usr/bin:/bin"},
            pass_fds=(
                results_fd,
                *fds.values(),
                *extra_fds,
                *([] if info_fd is None else [info_fd]),
            ),
            cwd="/",
            user_kwargs={},
            sandboxed=True,
            parent_fds=[*fds.values(), *extra_fds],
        )

    def _launch_plain(
        self,
        runtime: Runtime,
        files: Mapping[str, bytes],
        limits: Limits,
        results_fd: int,
        memory_limit_mb: int,
        prlimit: str,
    ) -> Launch:
        """Development fallback: rlimits and a cleared environment, nothing else. As a
        non-root user RLIMIT_NPROC is left unset: it would count every process of the
        developer's account, not only the submission's."""
        directory = tempfile.mkdtemp(prefix="codejudge-", dir=self._settings.work_dir)
        # Readable (not writable) by the sandbox user when root drops to it.
        os.chmod(directory, 0o755)  # noqa: S103 # nosec B103
        for name, content in files.items():
            target = Path(directory) / name
            target.write_bytes(content)
            target.chmod(0o444)
        if not _runs_as_root():
            limits = Limits(
                cpu_seconds=limits.cpu_seconds,
                address_space_bytes=limits.address_space_bytes,
                processes=None,
                open_files=limits.open_files,
                file_size_bytes=limits.file_size_bytes,
            )
        command = runtime.argv(
            harness=str(Path(directory) / runtime.harness_name),
            job=str(Path(directory) / "job.json"),
            solution=str(Path(directory) / runtime.solution_name),
            results_fd=results_fd,
            memory_limit_mb=memory_limit_mb,
        )
        return Launch(
            argv=[*self.drop_privileges_argv(), *limits.prlimit_argv(prlimit), *command],
            env=_base_env(runtime),
            pass_fds=(results_fd,),
            cwd=directory,
            user_kwargs={},
            sandboxed=False,
            directory=directory,
        )
