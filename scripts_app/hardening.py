"""Keeping the server's secrets out of reach of the scripts it runs (invariant 5).

A clean environment is not enough on its own: a script running as the same OS
user could read ``/proc/<worker pid>/environ`` and find SECRET_KEY, the database
password and the storage keys there. Two measures close that door:

- every Parseq process (web, worker, scheduler, CLI) marks itself non-dumpable,
  which makes its /proc files readable only with CAP_SYS_PTRACE (or, on current
  kernels, CAP_SYS_ADMIN or CAP_PERFMON);
- a script started as root gives those capabilities up (effective, permitted and
  bounding sets) before any of its code runs, so it cannot regain them either. The
  fork server gives them up once, at start: the scripts it forks inherit that.

No Django here: ``bootstrap`` imports this in the script's own process.
"""

from __future__ import annotations

import ctypes
import errno
import os

PR_SET_DUMPABLE = 4
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
# Each one lets a root process read a non-dumpable process's /proc/<pid>/environ
# (tests/test_runner_hardening.py checks that a script can read none).
PROC_READING_CAPABILITIES = (CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_PERFMON)
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def prctl(option: int, arg: int = 0) -> bool:
    """``prctl(option, arg)``; False if it failed, or where there is none (not Linux)."""
    try:
        return _libc().prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def hide_process_environment() -> bool:
    """Make this process's /proc entries (environ, mem, fds) unreadable to its peers."""
    return prctl(PR_SET_DUMPABLE, 0)


def drop_proc_reading_capabilities() -> None:
    """Give up PROC_READING_CAPABILITIES for good (only root holds them; a no-op for
    others)."""
    if os.geteuid() != 0:
        return
    lib = _libc()
    for cap in PROC_READING_CAPABILITIES:
        if lib.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0:  # gone already (e.g. in bwrap,
            continue  # where dropping it again needs CAP_SETPCAP, which is gone too)
        # EINVAL: a capability this kernel does not have (CAP_PERFMON before 5.8).
        if lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            raise OSError(ctypes.get_errno(), f"could not drop capability {cap}")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # capabilities 0-31, then 32-63
    if lib.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    for cap in PROC_READING_CAPABILITIES:
        word, bit = divmod(cap, 32)
        mask = ~(1 << bit) & 0xFFFFFFFF
        data[word].effective &= mask
        data[word].permitted &= mask
        data[word].inheritable &= mask
    if lib.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def drop_to_user(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` (the script user) for good: no supplementary groups, and
    (from root) no capabilities left, so there is no way back."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
