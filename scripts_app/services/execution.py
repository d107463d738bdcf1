"""Carrying out one execution on a worker: claim, run, store, finish.

The supervisor (this module), never the script, writes the final status.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from scripts_app.models import Execution, Status
from scripts_app.runner.process import ProcessOutcome, ProcessSpec, run_process
from scripts_app.runner.workspace import Workspace, clean_env, workspace
from scripts_app.services import state, storage
from scripts_app.services.logs import ChunkPublisher

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Verdict:
    status: Status
    error: str = ""
    result: Any = None
    exit_code: int | None = None
    extra: dict = field(default_factory=dict)


def execute(execution_id: int, *, echo: Callable[[bytes], None] | None = None) -> Execution | None:
    """Run a queued execution to its end. Returns None when another worker owns it."""
    if not state.claim(execution_id, worker_id()):
        logger.info("execution %s is not queued any more; message ignored", execution_id)
        return None
    execution = Execution.objects.select_related("job", "script_version").get(pk=execution_id)
    job = execution.job
    base = settings.PARSEQ_WORK_DIR
    with workspace(base, prefix=f"run-{execution_id}-") as ws:
        outcome = _run_in(ws, execution, echo)
        verdict = judge(outcome, ws, execution)
        fields = storage.store_outputs(execution, ws)
    fields.update(
        exit_code=verdict.exit_code,
        result=verdict.result,
        error=verdict.error[:2000],
        pid=outcome.pid,
    )
    state.finish(execution_id, verdict.status, **fields)
    execution.refresh_from_db()
    logger.info("execution %s of %s ended %s", execution_id, job.slug, execution.status)
    return execution


def _run_in(ws: Workspace, execution: Execution, echo) -> ProcessOutcome:
    job = execution.job
    with execution.script_version.file.open("rb") as src:
        ws.script.write_bytes(src.read())
    ws.params_file.write_text(json.dumps(execution.params), encoding="utf-8")
    run_vars = {
        **(job.env or {}),
        "PARSEQ_RUN_ID": str(execution.pk),
        "PARSEQ_JOB": job.slug,
    }
    if job.memory_limit_mb:
        run_vars["PARSEQ_LIMIT_MEMORY_BYTES"] = str(job.memory_limit_mb * 1024 * 1024)
    if job.cpu_time_limit:
        run_vars["PARSEQ_LIMIT_CPU_SECONDS"] = str(job.cpu_time_limit)
    spec = ProcessSpec(
        script=ws.script,
        workdir=ws.root,
        env=clean_env(ws, run_vars),
        timeout=job.timeout or settings.PARSEQ_DEFAULT_TIMEOUT,
        grace=settings.PARSEQ_KILL_GRACE,
        log_limit=job.log_limit_bytes or settings.PARSEQ_LOG_LIMIT_BYTES,
        tick_seconds=settings.PARSEQ_HEARTBEAT_SECONDS,
    )
    publisher = ChunkPublisher(execution.pk, ws.log_file)

    def on_start(pid: int) -> None:
        Execution.objects.filter(pk=execution.pk).update(pid=pid)

    def on_tick() -> str | None:
        publisher.publish()
        Execution.objects.filter(pk=execution.pk).update(heartbeat_at=timezone.now())
        cancel = (
            Execution.objects.filter(pk=execution.pk)
            .values_list("cancel_requested_at", flat=True)
            .first()
        )
        return "cancelled" if cancel else None

    return run_process(spec, ws.log_file, on_start=on_start, on_tick=on_tick, echo=echo)


def judge(outcome: ProcessOutcome, ws: Workspace, execution: Execution) -> Verdict:
    """The run's final status from what the process did and what it left behind."""
    code = outcome.exit_code
    if outcome.stop_reason == "cancelled":
        return Verdict(Status.CANCELLED, "cancelled by request", exit_code=code)
    if outcome.stop_reason:
        return Verdict(Status.FAILED, outcome.stop_reason, exit_code=code)
    if outcome.timed_out:
        timeout = execution.job.timeout or settings.PARSEQ_DEFAULT_TIMEOUT
        return Verdict(Status.TIMED_OUT, f"timed out after {timeout} s", exit_code=code)
    if code == 0:
        try:
            result = ws.read_json(ws.result_file)
        except ValueError:
            return Verdict(Status.FAILED, "the result file is not valid JSON", exit_code=code)
        return Verdict(Status.SUCCEEDED, result=result, exit_code=code)
    return Verdict(Status.FAILED, failure_message(code, ws, execution), exit_code=code)


def failure_message(code: int | None, ws: Workspace, execution: Execution) -> str:
    try:
        reported = ws.read_json(ws.error_file)
    except ValueError:
        reported = None
    if isinstance(reported, dict) and reported.get("error"):
        return str(reported["error"])
    if code is not None and code < 0:
        sig = signal.Signals(-code)
        if sig == signal.SIGXCPU:
            return f"CPU time limit exceeded ({execution.job.cpu_time_limit} s)"
        return f"killed by {sig.name}"
    return f"exit code {code}"
