"""Whether this worker sandboxes uploaded scripts, and each run's sandbox.

PARSEQ_SANDBOX: ``auto`` (bubblewrap when a real probe — bwrap started with the fork
server's own options, making a run's namespaces and mounts inside — works here),
``bwrap`` (required: the worker refuses to start without it) or ``off``. Decided once per
process (``state()``; the worker at boot, a one-shot ``manage.py <slug>`` at its first
run). Not sandboxed, the worker says so loudly once and records it on its heartbeat row,
which the admin dashboard reads. A root worker runs scripts as PARSEQ_SCRIPT_USER (default
``nobody``) in both modes, their workspace owned by that user.

Only uploaded scripts (kind=script) come here: code jobs are the project's own code.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scripts_app.environments import overlay
from scripts_app.worker.runner import bwrap, confine
from scripts_app.worker.runner.process import ProcessSpec
from scripts_app.worker.runner.workspace import RUNTIME_ROOT, Workspace

logger = logging.getLogger(__name__)

NOT_SANDBOXED = "scripts are not sandboxed"


class SandboxUnavailable(ImproperlyConfigured):
    """PARSEQ_SANDBOX=bwrap, and bwrap does not work on this machine."""


@dataclass(frozen=True)
class State:
    mode: str  # PARSEQ_SANDBOX
    profile: bwrap.Profile | None  # None: scripts run without a sandbox
    reason: str  # why not, when not
    run_as: tuple[int, int] | None  # the script user of a root worker

    @property
    def sandboxed(self) -> bool:
        return self.profile is not None


_lock = threading.Lock()
_states: dict[tuple, State] = {}


def state() -> State:
    """This process's sandbox for the current settings (probed once per settings)."""
    work_dir = Path(settings.PARSEQ_WORK_DIR)
    key = (settings.PARSEQ_SANDBOX, settings.PARSEQ_SCRIPT_USER, str(work_dir),
           os.environ.get("PATH", ""))  # fmt: skip
    with _lock:
        if key not in _states:
            _states[key] = resolve(settings.PARSEQ_SANDBOX, settings.PARSEQ_SCRIPT_USER, work_dir)
        return _states[key]


def forget() -> None:
    """Tests: decide again."""
    with _lock:
        _states.clear()


def resolve(mode: str, user: str, work_dir: Path) -> State:
    run_as = script_user(user)
    if mode == "off":
        return State(mode, None, "PARSEQ_SANDBOX=off", run_as)
    found = shutil.which("bwrap")
    profile = None
    if found is None:
        reason = "bwrap (bubblewrap) is not installed or not on PATH"
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        runtime = overlay.install(work_dir.parent / "sandbox-runtime")
        profile = bwrap.Profile(found, os.path.realpath(work_dir), str(runtime))
        reason = bwrap.probe(profile) or ""
    if not reason:
        return State(mode, profile, "", run_as)
    if mode == "bwrap":
        raise SandboxUnavailable(f"PARSEQ_SANDBOX=bwrap, but the sandbox does not work: {reason}")
    return State(mode, None, reason, run_as)


def script_user(name: str) -> tuple[int, int] | None:
    """(uid, gid) of PARSEQ_SCRIPT_USER for a root worker; None otherwise (or "root")."""
    if os.geteuid() != 0 or name in ("", "root"):
        return None
    try:
        entry = pwd.getpwnam(name) if not name.isdigit() else pwd.getpwuid(int(name))
    except KeyError:
        raise ImproperlyConfigured(f"PARSEQ_SCRIPT_USER={name!r}: no such user") from None
    return entry.pw_uid, entry.pw_gid


def at_worker_start() -> State:
    """Decide (a failing probe with PARSEQ_SANDBOX=bwrap raises), warn when scripts
    will run unsandboxed, and put the answer on this process's heartbeat row."""
    from scripts_app.observability import heartbeat

    current = state()
    heartbeat.FACTS["sandboxed"] = current.sandboxed
    if not current.sandboxed:
        user = f"as {settings.PARSEQ_SCRIPT_USER}" if current.run_as else "as this worker's user"
        logger.warning(
            "!!! %s: uploaded scripts run %s, with this host's files and processes in "
            "view (%s). Install bubblewrap or set PARSEQ_SANDBOX=bwrap to require it. !!!",
            NOT_SANDBOXED.upper(), user, current.reason,
        )  # fmt: skip
    return current


def owner() -> tuple[int, int] | None:
    """Who owns a run's workspace (None: this process's user)."""
    return state().run_as


def confine_spec(spec: ProcessSpec, ws: Workspace, network: str) -> None:
    """Put the run in this process's sandbox (if any) as its script user: paths in its
    environment as the script sees them, its network policy."""
    current = state()
    spec.run_as = current.run_as
    if current.profile is None:
        return
    confinement = bwrap.Confinement(current.profile, ws.root, network_off=network == "off")
    env = {name: confinement.view(value) for name, value in spec.env.items()}
    if env.get("PYTHONPATH") == str(RUNTIME_ROOT):  # not the project: its runtime copy
        env["PYTHONPATH"] = confine.RUNTIME
    spec.env = env
    spec.confine = confinement


def warm_wrapper(env: dict[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The start-up environment and bwrap command of this process's first fork server."""
    current = state()
    if current.profile is None:
        return env, ()
    env = {**env, "PYTHONPATH": confine.RUNTIME}
    return env, bwrap.server_args(current.profile, sys.executable)
