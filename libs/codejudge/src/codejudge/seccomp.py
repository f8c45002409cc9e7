"""The sandbox's seccomp filter: a classic-BPF program that bubblewrap installs (`--seccomp
FD`) right before it executes the submission's interpreter.

Bubblewrap already gives the submission no capabilities, no network and no nested user
namespaces; the filter takes away the kernel surface that stays reachable even so and that
no submission needs: debugging and reading other processes (ptrace, process_vm_*), every
mount and namespace call, the kernel keyring, eBPF, perf events, userfaultfd and io_uring
(the usual ingredients of kernel exploits), module loading, kexec, reboot, swap, clocks,
hostnames, raw I/O ports and `personality` (which could turn address-space randomization
off). Those calls fail with EPERM; everything else is allowed. A deny list, not an allow
list, on purpose: the interpreters (CPython, Node.js) and their libc change the syscalls
they use between versions, and an allow list that misses one breaks every submission; the
calls below are ones they never make.

Anything not built for this machine's architecture is killed: x86-64's x32 ABI (syscall
numbers with bit 30 set) and 32-bit calls would otherwise bypass the numbers checked here.

No libseccomp: the program is a few dozen instructions, built here from the syscall numbers
of the kernel's UAPI headers (asm/unistd_64.h for x86-64, asm-generic/unistd.h for arm64),
so the judge has no native dependency beyond bubblewrap.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; ...
_NR_OFFSET = 0
_ARCH_OFFSET = 4
# classic BPF opcodes
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
# seccomp return values
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
X32_SYSCALL_BIT = 0x40000000

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# Denied calls and their numbers per architecture (None: the architecture has no such call).
DENIED: dict[str, tuple[int | None, int | None]] = {
    #                       x86_64  aarch64
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "move_mount": (429, 429),
    "open_tree": (428, 428),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "unshare": (272, 97),
    "setns": (308, 268),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "reboot": (169, 142),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "acct": (163, 89),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "syslog": (103, 116),
    "vhangup": (153, 58),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "lookup_dcookie": (212, 18),
    "fanotify_init": (300, 262),
    "settimeofday": (164, 170),
    "clock_settime": (227, 112),
    "clock_adjtime": (305, 266),
    "adjtimex": (159, 171),
    "sethostname": (170, 161),
    "setdomainname": (171, 162),
    "iopl": (172, None),
    "ioperm": (173, None),
    "uselib": (134, None),
    "personality": (135, 92),
    "_sysctl": (156, None),
    "create_module": (174, None),
    "get_kernel_syms": (177, None),
    "query_module": (178, None),
    "nfsservctl": (180, 42),
}


class SeccompUnsupported(RuntimeError):
    """No filter for this machine's architecture."""


def machine() -> str:
    return platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")


def denied_numbers(arch: str | None = None) -> list[int]:
    arch = arch or machine()
    if arch not in AUDIT_ARCH:
        raise SeccompUnsupported(f"no seccomp filter for the {arch} architecture")
    column = 0 if arch == "x86_64" else 1
    return sorted({nrs[column] for nrs in DENIED.values() if nrs[column] is not None})


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(arch: str | None = None, error: int = errno.EPERM) -> bytes:
    """The compiled program (an array of struct sock_filter in native byte order), as
    bubblewrap's --seccomp reads it."""
    arch = arch or machine()
    numbers = denied_numbers(arch)
    deny = RET_ERRNO | (error & 0xFFFF)
    program = [
        _insn(_LD_W_ABS, 0, 0, _ARCH_OFFSET),
        _insn(_JEQ_K, 1, 0, AUDIT_ARCH[arch]),
        _insn(_RET_K, 0, 0, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _NR_OFFSET),
    ]
    if arch == "x86_64":
        # x32 ABI calls carry bit 30 and alias the 64-bit numbers: not for us
        program.append(_insn(_JGE_K, 0, 1, X32_SYSCALL_BIT))
        program.append(_insn(_RET_K, 0, 0, RET_KILL_PROCESS))
    for index, number in enumerate(numbers):
        # on a match jump over the remaining checks and the ALLOW to the deny below
        program.append(_insn(_JEQ_K, len(numbers) - index, 0, number))
    program.append(_insn(_RET_K, 0, 0, RET_ALLOW))
    program.append(_insn(_RET_K, 0, 0, deny))
    return b"".join(program)
