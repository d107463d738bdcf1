"""The bubblewrap command lines of sandboxed runs (no Django: the runner's side).

What a sandboxed script sees: the system read-only (``/usr``, a few files of ``/etc``,
the interpreter's prefix and virtual environment or its script environment), a ``/dev``
and a ``/tmp`` of its own, a ``/proc`` of its own PID namespace, and its workspace,
read-write, at ``/run/parseq/ws`` — nothing of the project, ``var/``, the spool, the
storage directory or other runs' workspaces.

Two ways in, one view (``confine.py`` names the paths):

- ``server_args``: a fork server started under bwrap with the directory of all the
  worker's workspaces bound in and the capabilities to make namespaces; each forked
  child then takes its own namespaces and keeps only its own workspace (confine.py);
- ``run_args``: one bwrap per run, with only that run's workspace bound in (a spawned
  run: ``manage.py <slug>``, tests, or when no fork server is enabled).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scripts_app.worker.runner.confine import (
    ALL_WORKSPACES,
    KEPT,
    RUNTIME,
    SOCKET_DIR,
    WORKSPACE,
)

# /etc entries programs need (users, name resolution, TLS roots, time zone, the
# dynamic linker, pg_dump's wrapper), and nothing else of it.
ETC = (
    "passwd", "group", "hosts", "host.conf", "resolv.conf", "nsswitch.conf", "gai.conf",
    "services", "protocols", "ssl", "ca-certificates", "ca-certificates.conf",
    "localtime", "timezone", "zoneinfo", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
    "alternatives", "mime.types", "postgresql-common", "perl",
)  # fmt: skip
NAMESPACES = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
# The fork server makes each child's namespaces and mounts, and children give up what
# reads other processes (hardening.py: CAP_SETPCAP) and drop to the script user: these
# and no other capability. A spawned run only does the last two.
SERVER_CAPS = ("CAP_SYS_ADMIN", "CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID")
RUN_CAPS = ("CAP_SETPCAP", "CAP_SETUID", "CAP_SETGID")


@dataclass(frozen=True)
class Profile:
    """The sandbox of this worker process: which bwrap, which workspaces, which runtime."""

    bwrap: str  # the binary's path
    work_dir: str  # the host directory holding every workspace of this worker
    runtime: str  # the host directory of Parseq's script-side modules (RUNTIME)


@dataclass(frozen=True)
class Confinement:
    """One run's sandbox: its profile, its workspace (a host path), its network."""

    profile: Profile
    workspace: Path
    network_off: bool = False

    def request(self, run_as: tuple[int, int] | None, interpreter: str = sys.executable) -> dict:
        """What the sandboxed fork server's child needs (confine.enter)."""
        name = os.path.relpath(os.path.realpath(self.workspace), self.profile.work_dir)
        if name.startswith(".."):
            raise ValueError(f"workspace {self.workspace} is not under {self.profile.work_dir}")
        keep = [[kept, dest] for kept, (_source, dest) in _tmp_binds(interpreter)]
        return {"workspace": name, "network_off": self.network_off, "run_as": run_as, "keep": keep}

    def view(self, value: str) -> str:
        """A host path of the workspace as the script sees it."""
        root = str(self.workspace)
        if value == root or value.startswith(root + "/"):
            return WORKSPACE + value[len(root) :]
        return value


@functools.cache
def system_args() -> tuple[str, ...]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--perms", "0755", "--dir", "/etc"]  # bwrap would make it 0700: unreadable
    for name in ETC:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path.resolve()), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    args += [*_parents(WORKSPACE, set()), "--dir", WORKSPACE]
    if os.geteuid() != 0:  # unprivileged: a user namespace, root inside it
        args += ["--unshare-user", "--uid", "0", "--gid", "0"]
    return (*args, *NAMESPACES, "--hostname", "parseq")


@functools.cache
def interpreter_args(interpreter: str) -> tuple[str, ...]:
    """Read-only binds for an interpreter: its virtual environment (where its path
    says), the prefix of the Python it runs; none for what /usr already holds."""
    binds: dict[str, str] = {}  # destination: source
    path = Path(interpreter)
    venv = path.parent.parent
    config = venv / "pyvenv.cfg"
    if config.is_file():
        binds[str(venv)] = str(venv.resolve())
        for line in config.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                base = Path(value.strip()).resolve().parent
                binds[str(base)] = str(base)
    prefix = path.resolve().parent.parent
    binds.setdefault(str(prefix), str(prefix))
    args: list[str] = []
    made: set[str] = set()
    for dest in sorted(binds, key=len):  # parents before what is inside them
        if dest != "/usr" and not dest.startswith("/usr/"):
            args += [*_parents(dest, made), "--ro-bind", binds[dest], dest]
    return tuple(args)


def _tmp_binds(interpreter: str) -> list[tuple[str, tuple[str, str]]]:
    """The interpreter's binds under /tmp (a checkout or virtualenv there), each with a
    second place outside /tmp: a forked run mounts a fresh /tmp of its own and binds
    them back from there (confine.own_mounts)."""
    args = interpreter_args(interpreter)
    binds = [(args[i + 1], args[i + 2]) for i, arg in enumerate(args) if arg == "--ro-bind"]
    under_tmp = [(source, dest) for source, dest in binds if dest.startswith("/tmp/")]
    return [(f"{KEPT}/{n}", bind) for n, bind in enumerate(under_tmp)]


def _kept_args(interpreter: str) -> tuple[str, ...]:
    args: list[str] = []
    for kept, (source, _dest) in _tmp_binds(interpreter):
        args += ["--ro-bind", source, kept]
    return tuple(args)


def _parents(dest: str, made: set[str]) -> list[str]:
    """Folders above a bind, readable by the script user (bwrap makes them 0700)."""
    args: list[str] = []
    for parent in reversed(Path(dest).parents[:-1]):  # /root, /root/.pyenv, …
        if str(parent) not in made:
            made.add(str(parent))
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _caps(names: tuple[str, ...]) -> tuple[str, ...]:
    args = ["--cap-drop", "ALL"]
    for name in names:
        args += ["--cap-add", name]
    return tuple(args)


def server_args(profile: Profile, interpreter: str) -> tuple[str, ...]:
    """bwrap and its options for a sandboxed fork server (its socket folder is bound
    in when it starts: ``socket_args``). No --die-with-parent: that is the death of
    the *thread* that started it (the pool starts servers from short-lived threads);
    the server's lifeline is its stdin (EOF when the worker goes), and bwrap ends with it.
    """
    return (
        profile.bwrap,
        *system_args(),
        *interpreter_args(interpreter),
        *_kept_args(interpreter),
        "--ro-bind", profile.runtime, RUNTIME,
        "--bind", profile.work_dir, ALL_WORKSPACES,
        *_caps(SERVER_CAPS),
    )  # fmt: skip


def socket_args(folder: str) -> tuple[str, ...]:
    return ("--bind", folder, SOCKET_DIR)


def run_args(confinement: Confinement, interpreter: str) -> list[str]:
    """bwrap and its options for one spawned run, only its workspace bound in."""
    profile = confinement.profile
    return [
        profile.bwrap,
        *system_args(),
        *interpreter_args(interpreter),
        "--ro-bind", profile.runtime, RUNTIME,
        "--bind", str(confinement.workspace), WORKSPACE,
        "--die-with-parent",
        *(["--unshare-net"] if confinement.network_off else []),
        # As root, the bootstrap enters the workspace as the script user (its alone).
        "--chdir", "/" if os.geteuid() == 0 else WORKSPACE,
        *_caps(RUN_CAPS),
    ]  # fmt: skip


PROBE = "from scripts_app.worker.runner import confine; confine.probe()"


def probe(profile: Profile, interpreter: str = sys.executable) -> str | None:
    """Start bwrap exactly as a sandboxed fork server is started and make, inside, the
    namespaces and mounts a run makes; None if that works, else why not."""
    folder = profile.work_dir  # any existing directory will do for the socket bind
    command = [
        *server_args(profile, interpreter),
        *socket_args(folder),
        interpreter, "-c", PROBE,
    ]  # fmt: skip
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": RUNTIME}
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{profile.bwrap} could not run: {exc}"
    if done.returncode != 0:
        said = (done.stderr or done.stdout).decode(errors="replace").strip()[-500:]
        return f"{profile.bwrap} failed (exit {done.returncode}): {said}"
    return None
