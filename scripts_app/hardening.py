"""Keeping the server's secrets out of reach of the scripts it runs (invariant 5).

A clean environment is not enough on its own: a script running as the same OS
user could read ``/proc/<worker pid>/environ`` and find SECRET_KEY, the database
password and the storage keys there. Two measures close that door:

- every Parseq process (web, worker, scheduler, CLI) marks itself non-dumpable,
  which makes its /proc files readable only with CAP_SYS_PTRACE;
- a script started as root gives up CAP_SYS_PTRACE (effective, permitted and
  bounding sets) before any of its code runs, so it cannot regain it either.

No Django here: ``bootstrap`` imports this in the script's own process.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
CAP_SYS_PTRACE = 19
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


def hide_process_environment() -> bool:
    """Make this process's /proc entries (environ, mem, fds) unreadable to its peers."""
    try:
        return _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: nothing to hide this way
        return False


def drop_ptrace_capability() -> None:
    """Give up CAP_SYS_PTRACE for good (only root holds it; a no-op for others)."""
    if os.geteuid() != 0:
        return
    libc = _libc()
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "could not drop CAP_SYS_PTRACE from the bounding set")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    mask = ~(1 << CAP_SYS_PTRACE) & 0xFFFFFFFF
    data[0].effective &= mask
    data[0].permitted &= mask
    data[0].inheritable &= mask
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
