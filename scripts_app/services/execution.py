"""Carrying out one execution on a worker: claim, run, store, finish.

The supervisor (this module), never the script, writes the final status.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from scripts_app.errors import ParseqError
from scripts_app.models import Execution, Status
from scripts_app.runner.process import ProcessOutcome, ProcessSpec, run_process
from scripts_app.runner.workspace import Workspace, clean_env, workspace
from scripts_app.services import (
    concurrency,
    files,
    followups,
    limits,
    masking,
    secrets,
    spool,
    state,
    storage,
)
from scripts_app.services.logs import ChunkPublisher
from scripts_app.services.resilience import heartbeat_while, reset_connection, retry_db

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ShutdownClock:
    """Set by the worker's ShutdownGrace middleware when the worker is asked to stop.

    From then on no new run is claimed; running ones may finish until the grace
    period ends, then their supervisor stops them and records why.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.deadline: float | None = None
        self.grace = 0

    def begin(self, grace: int) -> None:
        with self.lock:
            if self.deadline is None:
                self.grace = grace
                self.deadline = time.monotonic() + grace

    def reset(self) -> None:
        with self.lock:
            self.deadline = None

    @property
    def started(self) -> bool:
        return self.deadline is not None

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


SHUTDOWN = ShutdownClock()
SHUTDOWN_STOP = "worker shut down: run stopped after the {grace} s shutdown grace period"


@dataclass
class Verdict:
    status: Status
    error: str = ""
    result: Any = None
    exit_code: int | None = None
    extra: dict = field(default_factory=dict)


def execute(execution_id: int, *, echo: Callable[[bytes], None] | None = None) -> Execution | None:
    """Run a queued execution to its end. Returns None when another worker owns it."""
    if SHUTDOWN.started:
        # Stay queued: the scheduler re-sends it to a worker that is not stopping.
        logger.info("worker is shutting down; execution %s left queued", execution_id)
        _mark_unsent(execution_id)
        return None
    # The claim also enforces the concurrency caps and retry backoff; a run that
    # does not fit yet stays queued and is sent again when a slot frees.
    if not retry_db(concurrency.claim, execution_id, worker_id(), what=f"claim {execution_id}"):
        logger.info("execution %s is not claimable now; message ignored", execution_id)
        _mark_unsent(execution_id)
        return None
    execution = retry_db(
        Execution.objects.select_related("job", "script_version").get,
        pk=execution_id,
        what=f"load {execution_id}",
    )
    job = execution.job
    base = settings.PARSEQ_WORK_DIR
    run_limits = limits.for_job(job)
    try:
        secret_vars, unreadable = secrets.secret_env(job), ""
    except secrets.SecretUnreadable as exc:
        secret_vars, unreadable = {}, str(exc)
    masker = secrets.masker_for(secret_vars)
    with workspace(base, prefix=f"run-{execution_id}-") as ws:
        if unreadable:
            outcome = ProcessOutcome(exit_code=None, stop_reason=unreadable)
        else:
            outcome = _run_in(ws, execution, echo, secret_vars, masker, run_limits)
        verdict = judge(outcome, ws, execution)
        breach = limits.breach_after_exit(outcome, ws, run_limits)
        if breach and verdict.status in (Status.SUCCEEDED, Status.FAILED):
            verdict = Verdict(Status.FAILED, breach, exit_code=verdict.exit_code)
        if breach == run_limits.output_message:
            limits.discard_outputs(ws)
        masking.mask_file(ws.log_file, masker)
        try:
            with heartbeat_while(execution_id):
                fields = retry_db(
                    storage.store_outputs, execution, ws, what=f"store {execution_id}"
                )
        except spool.STORAGE_ERRORS as exc:
            kept = spool.keep(execution_id, ws)
            logger.error("execution %s: outputs kept in %s: %s", execution_id, kept, exc)
            fields = {}
            verdict.error = "\n".join(filter(None, [verdict.error, spool.note(exc, kept)]))
    fields.update(
        exit_code=verdict.exit_code,
        result=masker.json(verdict.result),
        error=masker.text(verdict.error)[:2000],
        pid=outcome.pid,
    )
    finished = retry_db(
        state.finish, execution_id, verdict.status, what=f"finish {execution_id}", **fields
    )
    execution = retry_db(
        Execution.objects.select_related("job").get, pk=execution_id, what="reload"
    )
    logger.info("execution %s of %s ended %s", execution_id, job.slug, execution.status)
    if finished:  # retry, e-mail, next waiting run: only after the final status is written
        followups.after_final(execution)
    return execution


def _mark_unsent(execution_id: int) -> None:
    """This message is consumed without running the run: if it is still queued (held
    back, or this worker is stopping), it has no message any more; say so, so that the
    scheduler's re-send picks it up after PARSEQ_RESEND_AFTER_SECONDS."""
    retry_db(
        Execution.objects.filter(pk=execution_id, status=Status.QUEUED).update,
        sent_at=None,
        what=f"unsend {execution_id}",
    )


def _run_in(
    ws: Workspace,
    execution: Execution,
    echo,
    secret_vars: dict[str, str],
    masker: masking.Masker,
    run_limits: limits.Limits,
) -> ProcessOutcome:
    job = execution.job
    try:
        with heartbeat_while(execution.pk), execution.script_version.file.open("rb") as src:
            ws.script.write_bytes(src.read())
    except spool.STORAGE_ERRORS as exc:  # storage down: fail clearly, not as "worker lost"
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return ProcessOutcome(exit_code=None, stop_reason=f"could not read the script: {reason}")
    ws.params_file.write_text(json.dumps(execution.params), encoding="utf-8")
    try:  # params["input_files"]: the worker fetches them; scripts get no storage credentials
        files.fetch_inputs(execution.params, ws.inputs)
    except (ParseqError, OSError) as exc:
        return ProcessOutcome(exit_code=None, stop_reason=f"input files: {exc}")
    files.result_dir(ws.root).mkdir(exist_ok=True)
    run_vars = {
        **(job.env or {}),
        **secret_vars,
        **run_limits.process_env(),
        "PARSEQ_RUN_ID": str(execution.pk),
        "PARSEQ_JOB": job.slug,
        "PARSEQ_RESULT_FILES_DIR": str(files.result_dir(ws.root)),
    }
    spec = ProcessSpec(
        script=ws.script,
        workdir=ws.root,
        env=clean_env(ws, run_vars),
        timeout=job.timeout or settings.PARSEQ_DEFAULT_TIMEOUT,
        grace=settings.PARSEQ_KILL_GRACE,
        log_limit=run_limits.log_bytes,
        tick_seconds=settings.PARSEQ_HEARTBEAT_SECONDS,
    )
    if masker:  # secrets never reach the live log either, even split across chunks
        publisher = masking.MaskingChunkPublisher(execution.pk, ws.log_file, masker)
    else:
        publisher = ChunkPublisher(execution.pk, ws.log_file)
    echo, flush_echo = masking.masked_echo(echo, masker)

    def on_start(pid: int) -> None:
        retry_db(Execution.objects.filter(pk=execution.pk).update, pid=pid, what="record pid")

    def on_tick() -> str | None:
        if SHUTDOWN.expired:
            return SHUTDOWN_STOP.format(grace=SHUTDOWN.grace)
        try:
            publisher.publish()
            Execution.objects.filter(pk=execution.pk).update(heartbeat_at=timezone.now())
            cancel = (
                Execution.objects.filter(pk=execution.pk)
                .values_list("cancel_requested_at", flat=True)
                .first()
            )
        except DatabaseError as exc:  # database away for a moment: the script keeps running
            logger.warning("execution %s: heartbeat skipped: %s", execution.pk, exc)
            reset_connection()
            return None
        if cancel:
            return "cancelled"
        return limits.breach_while_running(ws, run_limits)

    outcome = run_process(spec, ws.log_file, on_start=on_start, on_tick=on_tick, echo=echo)
    flush_echo()
    try:  # files left in results/ become keys runs/<id>/<name> of the file storage API
        files.store_results(execution.pk, ws.root)
    except Exception as exc:  # any storage backend error: the run cannot hand its keys back
        logger.exception("execution %s: storing result files failed", execution.pk)
        outcome.stop_reason = outcome.stop_reason or f"could not store result files: {exc}"
    return outcome


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
