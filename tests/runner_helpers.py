"""Helpers for running scripts through the real runner without Django."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from scripts_app.runner.process import ProcessOutcome, ProcessSpec, run_process
from scripts_app.runner.workspace import Workspace, clean_env, workspace


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
) -> tuple[ScriptOutcome, Workspace, bytes]:
    """Run ``source`` as a script in a fresh workspace; returns (outcome, workspace, log)."""
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
        )
        outcome = run_process(spec, ws.log_file, on_tick=on_tick)
        log = ws.log_file.read_bytes()
        result = ws.read_json(ws.result_file)
        error = ws.read_json(ws.error_file)
    return ScriptOutcome(**vars(outcome), extra={"result": result, "error": error}), ws, log
