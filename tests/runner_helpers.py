"""Helpers for running scripts through the real runner without Django."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts_app.worker.runner.process import ProcessOutcome, ProcessSpec, run_process
from scripts_app.worker.runner.workspace import Workspace, clean_env, workspace


@dataclass
class ScriptOutcome(ProcessOutcome):
    """The process outcome plus what the script reported (``result``, ``error``)."""

    extra: dict = field(default_factory=dict)


def run_source(
    tmp_path: Path,
    source: str,
    *,
    timeout: float = 20,
    grace: float = 1,
    log_limit: int = 1 << 20,
    run_vars: dict | None = None,
    on_tick=None,
    tick: float = 0.2,
    fork_server: bool = False,
    **spec_fields,
) -> tuple[ScriptOutcome, Workspace, bytes]:
    """Run ``source`` as a script in a fresh workspace; returns (outcome, workspace, log).
    ``spec_fields``: more ProcessSpec fields (``interpreter``, ``wrapper``)."""
    with workspace(tmp_path, prefix="t-") as ws:
        ws.script.write_text(textwrap.dedent(source))
        ws.params_file.write_text("{}")
        spec = ProcessSpec(
            script=ws.script,
            workdir=ws.root,
            env=clean_env(ws, run_vars or {}),
            timeout=timeout,
            grace=grace,
            log_limit=log_limit,
            tick_seconds=tick,
            fork_server=fork_server,
            **spec_fields,
        )
        outcome = run_process(spec, ws.log_file, on_tick=on_tick)
        log = ws.log_file.read_bytes()
        result = ws.read_json(ws.result_file)
        error = ws.read_json(ws.error_file)
    return ScriptOutcome(**vars(outcome), extra={"result": result, "error": error}), ws, log


ROOT = Path(__file__).resolve().parent.parent

# A worker of its own for tests that kill it: runs one script, prints its result.
WORKER = """
import json, sys
from pathlib import Path
from scripts_app import hardening
from scripts_app.worker.runner.process import ProcessSpec, run_process
from scripts_app.worker.runner.workspace import clean_env, workspace

hardening.hide_process_environment()  # as every Parseq process does (apps.py)
source, base, fork_server = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "fork"
with workspace(base, prefix="w-") as ws:
    ws.script.write_text(source)
    ws.params_file.write_text("{}")
    env = clean_env(ws, {})
    spec = ProcessSpec(ws.script, ws.root, env, timeout=60, fork_server=fork_server)
    outcome = run_process(spec, ws.log_file)
    print(json.dumps({"exit_code": outcome.exit_code, "result": ws.read_json(ws.result_file)}))
"""


def start_worker(
    tmp_path: Path, source: str, *, fork_server: bool, env: dict | None = None
) -> subprocess.Popen:
    """A separate worker process running ``source`` (spawned, or forked from its own
    fork server); its own session, so a test can SIGKILL the worker's whole group."""
    mode = "fork" if fork_server else "spawn"
    args = [sys.executable, "-c", WORKER, textwrap.dedent(source), str(tmp_path), mode]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, start_new_session=True, text=True
    )


def wait_for_pids(path: Path, count: int, timeout: float = 20) -> list[int]:
    """The ``count`` pids a script writes to ``path`` once it has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            pids = path.read_text().split()
            if len(pids) == count:
                return [int(pid) for pid in pids]
        time.sleep(0.02)
    raise TimeoutError(f"the script did not write {path}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def gone_soon(pids: list[int], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(alive(pid) for pid in pids)
