"""A forked script's own namespaces inside the sandboxed fork server (script side).

The fork server of a sandboxed run is itself started under bubblewrap
(``worker/sandbox/bwrap.py``): it sees the system read-only and the directory of *all*
this worker's workspaces at ``ALL_WORKSPACES``. Each run must see only its own, so the
forked child, before any of the script's code runs:

1. takes a mount namespace of its own (and a network one for ``network=off``: no
   interface but a loopback that is down), makes every mount private, binds its own
   workspace onto ``WORKSPACE`` and detaches the others and the server's socket folder,
   with a fresh ``/tmp``;
2. takes a PID namespace of its own: its first child is that namespace's init
   (``pid 1``), which mounts a ``/proc`` that shows only the run's processes and forks
   the script. When the script ends, init writes its wait status to the outer child and
   exits, and the kernel kills whatever is left in the namespace (a ``setsid`` + double
   fork escapes nothing);
3. the script gives up root (``run_as``: PARSEQ_SCRIPT_USER) with no way back
   (``PR_SET_NO_NEW_PRIVS``, so no setuid binary either).

The outer child (the pid the worker knows, its process group's leader) waits and exits
as the script did — same code, or killed by the same signal — so the supervisor, the
lifeline (the group's ``F_SETOWN``) and the group kills work exactly as for an unsandboxed
run. Standard library only: environments' interpreters load it (``environments/overlay``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import struct

from scripts_app import hardening

ALL_WORKSPACES = "/run/parseq/all"  # the worker's workspace directory, in the server
WORKSPACE = "/run/parseq/ws"  # one run's workspace, as its script sees it
SOCKET_DIR = "/run/parseq/sock"  # the server's socket folder
RUNTIME = "/run/parseq/runtime"  # Parseq's script-side modules (PYTHONPATH)
KEPT = "/run/parseq/kept"  # the interpreter's binds under /tmp, again (bwrap._tmp_binds)

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    libc = hardening._libc()
    _check(libc.mount(_bytes(source), target.encode(), _bytes(fstype), flags, None), target)


def _umount(target: str) -> None:
    _check(hardening._libc().umount2(target.encode(), MNT_DETACH), f"umount {target}")


def unshare(flags: int) -> None:
    _check(hardening._libc().unshare(flags), "unshare")


def own_mounts(workspace: str, keep: list | None = None) -> None:
    """Only this run's workspace (a name under ALL_WORKSPACES), at WORKSPACE, and a
    fresh /tmp — with the interpreter's read-only binds under /tmp (``keep``: [kept
    copy, place]) put back in it, read-only again."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing of ours reaches the server's
    _mount(os.path.join(ALL_WORKSPACES, workspace), WORKSPACE, None, MS_BIND | MS_REC)
    _umount(ALL_WORKSPACES)
    _umount(SOCKET_DIR)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV)
    for kept, place in keep or ():
        os.makedirs(place, mode=0o755, exist_ok=True)
        _mount(kept, place, None, MS_BIND | MS_REC)
        _mount(None, place, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter(request: dict) -> None:
    """Called in the forked child with the run's ``confine`` request; returns in the
    script's process (pid 2 of the run's PID namespace), never in the others."""
    flags = CLONE_NEWNS | CLONE_NEWPID | (CLONE_NEWNET if request.get("network_off") else 0)
    unshare(flags)
    own_mounts(request["workspace"], request.get("keep"))
    status_r, status_w = os.pipe()
    init = os.fork()  # the first process of the new PID namespace: its init
    if init:
        os.close(status_w)
        _outer(init, status_r)  # never returns
    os.close(status_r)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    script = os.fork()
    if script:
        _init(script, status_w)  # never returns
    os.close(status_w)
    become_user(request.get("run_as"))


def become_user(run_as: list[int] | None) -> None:
    """This process as the script user for good (or, without one, without the
    capabilities that read other processes); no new privileges from here on."""
    hardening.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    hardening.prctl(PR_SET_NO_NEW_PRIVS, 1)
    if run_as:
        hardening.drop_to_user(*run_as)
    else:
        hardening.drop_proc_reading_capabilities()


def _quiet() -> None:
    # The waiting processes hold no output: the log ends when the script's side does.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _init(script: int, status_w: int) -> None:
    """pid 1: reap every orphan until the script ends; then report and exit (which
    kills what is left in the namespace)."""
    _quiet()
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            status = 0x7F00  # cannot happen: the script is our child
            break
        if pid == script:
            break
    os.write(status_w, struct.pack("i", status))
    os._exit(0)


def _outer(init: int, status_r: int) -> None:
    """The run's group leader: wait, then end as the script ended."""
    # A timeout's SIGTERM is for the script (its own handlers, the grace period): this
    # process outlives it to report how it ended.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    _quiet()
    data = b""
    while len(data) < 4:
        chunk = os.read(status_r, 4 - len(data))
        if not chunk:
            break
        data += chunk
    _, init_status = os.waitpid(init, 0)
    status = struct.unpack("i", data)[0] if len(data) == 4 else init_status
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


def probe() -> None:
    """What a sandboxed run needs of the kernel, tried once (worker start): raises if
    the namespaces or mounts are refused."""
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV)
    pid = os.fork()
    if pid == 0:
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise OSError("cannot mount /proc in a new PID namespace")
