"""Carrying out one execution on a worker: claim, run, store, finish.

The supervisor (this module), never the script, writes the final status.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from scripts_app.errors import ParseqError
from scripts_app.models import Execution, Job, JobSecret, Status
from scripts_app.runner.process import ProcessOutcome, ProcessSpec, run_process
from scripts_app.runner.workspace import Workspace, WorkspacePool, clean_env
from scripts_app.services import (
    concurrency,
    dispatch,
    files,
    followups,
    limits,
    masking,
    script_cache,
    secrets,
    spool,
    state,
    storage,
)
from scripts_app.services.logs import ChunkPublisher
from scripts_app.services.prepared import PreparedQuery
from scripts_app.services.resilience import (
    Heartbeat,
    heartbeat_while,
    reset_connection,
    retry_db,
)

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
WORKSPACES = WorkspacePool()
atexit.register(WORKSPACES.clear)  # a worker process clears it in ForkServer at shutdown
SHUTDOWN_STOP = "worker shut down: run stopped after the {grace} s shutdown grace period"


@dataclass
class Verdict:
    status: Status
    error: str = ""
    result: Any = None
    exit_code: int | None = None


def execute(execution_id: int, *, echo: Callable[[bytes], None] | None = None) -> Execution | None:
    """Run a queued execution to its end. Returns None when another worker owns it."""
    if SHUTDOWN.started:
        # Stay queued: the scheduler re-sends it to a worker that is not stopping.
        logger.info("worker is shutting down; execution %s left queued", execution_id)
        _mark_unsent(execution_id)
        return None
    # The claim also enforces the concurrency caps and retry backoff; a run that
    # does not fit yet stays queued and is sent again when a slot frees.
    execution = _claim(execution_id)
    if execution is None:
        logger.info("execution %s is not claimable now; message ignored", execution_id)
        _mark_unsent(execution_id)
        return None
    return carry_out(execution_id, echo=echo, loaded=execution)


def _claim(execution_id: int) -> Execution | None:
    """Load the run with all a run needs (one query) and claim it; None if it is not ours."""
    execution = retry_db(_fetch, execution_id, what=f"load {execution_id}")
    if execution is None:
        return None
    now, worker = timezone.now(), worker_id()
    if not retry_db(concurrency.claim_loaded, execution, worker, now, what=f"claim {execution_id}"):
        return None
    execution.status, execution.worker = Status.RUNNING, worker
    execution.started_at = execution.heartbeat_at = now
    return execution


def _run_with_all_it_needs(execution_id: int):
    secret = JobSecret.objects.filter(job_id=OuterRef("job_id"))
    return (
        Execution.objects.select_related("job", "script_version")
        .annotate(has_secrets=Exists(secret))
        .filter(pk=execution_id)
    )


# Compiled once per worker thread: building this SQL costs more than running it.
_RUN_QUERY = PreparedQuery(_run_with_all_it_needs)


def _fetch(execution_id: int) -> Execution | None:
    return _RUN_QUERY.first(execution_id)


def trigger_here(job: Job, *, params: Any, trigger: str) -> tuple[Execution, bool]:
    """Record a run to carry out in this process (``manage.py <slug>``), claimed in the
    same transaction when the caps allow: no relay or re-send ever sees it queued.
    False: it waits for a slot like any queued run."""
    with transaction.atomic():
        run = dispatch.trigger(job, params=params, trigger=trigger, send=False)
        claimed = concurrency.claim(run.pk, worker_id())
    return run, claimed


@dataclass
class Run:
    """What the steps of one claimed run share."""

    execution: Execution
    limits: limits.Limits
    secret_vars: dict[str, str]
    masker: masking.Masker
    unreadable: str = ""  # secrets that cannot be decrypted: the run fails saying so
    echo: Callable[[bytes], None] | None = None
    heartbeat: Heartbeat | None = None
    pid: int | None = None
    pid_written: bool = False  # with the first heartbeat, else with the final state
    published: bool = False  # live log chunks to drop once the log is stored


def carry_out(
    execution_id: int,
    *,
    echo: Callable[[bytes], None] | None = None,
    loaded: Execution | None = None,
) -> Execution:
    """Run an execution this process has claimed to its final status.

    The heartbeat runs from the claim to the final state, through every slow step.
    Whatever goes wrong in the worker's own steps, the run still ends: ``failed``
    naming the error, or ``cancelled`` on Ctrl-C (re-raised) — never left running.
    """
    masker, run = masking.Masker(()), None
    with heartbeat_while(execution_id) as heartbeat:
        try:
            run = _load(execution_id, loaded, echo, heartbeat)
            masker = run.masker
            verdict, fields = _carry_out(run)
        except KeyboardInterrupt:
            _finish(execution_id, Verdict(Status.CANCELLED, "interrupted"), {}, masker)
            raise
        except Exception as exc:
            logger.exception("execution %s: the worker failed running it", execution_id)
            verdict, fields = Verdict(Status.FAILED, worker_error(exc)), {}
        finished = _finish(execution_id, verdict, fields, masker)
    execution = _final(execution_id, run, verdict, fields, finished)
    logger.info("execution %s of %s ended %s", execution_id, execution.job.slug, execution.status)
    if finished:  # retry, e-mail, next waiting run: only after the final status is written
        followups.after_final(execution)
    return execution


def worker_error(exc: BaseException) -> str:
    return f"worker error: {type(exc).__name__}: {exc}"[:300]


def _load(execution_id: int, loaded: Execution | None, echo, heartbeat: Heartbeat) -> Run:
    execution = loaded or retry_db(_fetch, execution_id, what=f"load {execution_id}")
    try:
        has_secrets = getattr(execution, "has_secrets", True)
        secret_vars, unreadable = secrets.secret_env(execution.job) if has_secrets else {}, ""
    except secrets.SecretUnreadable as exc:
        secret_vars, unreadable = {}, str(exc)
    return Run(
        execution=execution,
        limits=limits.for_job(execution.job),
        secret_vars=secret_vars,
        masker=secrets.masker_for(secret_vars),
        unreadable=unreadable,
        echo=echo,
        heartbeat=heartbeat,
    )


def _carry_out(run: Run) -> tuple[Verdict, dict]:
    """Workspace in, verdict and stored outputs out; the workspace is gone after."""
    with WORKSPACES.workspace(Path(settings.PARSEQ_WORK_DIR)) as ws:
        outcome = _run_in(ws, run)
        verdict = _judge_with_limits(outcome, ws, run)
        fields = _store(ws, run, verdict)
    if run.pid and not run.pid_written:
        fields["pid"] = run.pid
    return verdict, fields


def _finish(execution_id: int, verdict: Verdict, fields: dict, masker: masking.Masker) -> bool:
    fields.update(
        exit_code=verdict.exit_code,
        result=masker.json(verdict.result),
        error=masker.text(verdict.error).replace("\x00", "\\0")[:2000],  # text can't hold NUL
        finished_at=timezone.now(),
    )
    return retry_db(
        state.finish, execution_id, verdict.status, what=f"finish {execution_id}", **fields
    )


def _final(
    execution_id: int, run: Run | None, verdict: Verdict, fields: dict, finished: bool
) -> Execution:
    """The run as it ended. Only a failed run (which may be retried: has a cancel come
    in meanwhile?) or one ended elsewhere is read back; else what was written is known."""
    if not finished or run is None or verdict.status == Status.FAILED:
        return retry_db(Execution.objects.select_related("job").get, pk=execution_id, what="reload")
    execution = run.execution
    execution.status, execution.pid = verdict.status, run.pid
    for name, value in fields.items():
        setattr(execution, name, value)
    return execution


def _mark_unsent(execution_id: int) -> None:
    """This message is consumed without running the run: if it is still queued (held
    back, or this worker is stopping), it has no message any more; say so, so that the
    scheduler's re-send picks it up after PARSEQ_RESEND_AFTER_SECONDS."""
    retry_db(dispatch.mark_unsent, [execution_id], what=f"unsend {execution_id}")


# --- the steps of a run ----------------------------------------------------------------


def _run_in(ws: Workspace, run: Run) -> ProcessOutcome:
    stop = run.unreadable or _prepare(ws, run.execution)
    if stop:
        return ProcessOutcome(exit_code=None, stop_reason=stop)
    version = run.execution.script_version
    if version is not None and version.lock_sha256:  # declared dependencies: its environment
        from scripts_app.environments import runs as environments

        return environments.run_in(version, ws.log_file, lambda env: _run_process(ws, run, env))
    return _run_process(ws, run)


def _prepare(ws: Workspace, execution: Execution) -> str | None:
    """Script, params and input files into the workspace; a reason to fail the run, if any."""
    try:
        ws.script.write_bytes(script_cache.script_bytes(execution.script_version))
    except spool.STORAGE_ERRORS as exc:  # storage down: fail clearly, not as "worker lost"
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return f"could not read the script: {reason}"
    ws.params_file.write_text(json.dumps(execution.params), encoding="utf-8")
    try:  # params["input_files"]: the worker fetches them; scripts get no storage credentials
        files.fetch_inputs(execution.params, ws.inputs)
    except (ParseqError, *spool.STORAGE_ERRORS) as exc:
        return f"input files: {exc}"[:300]
    files.result_dir(ws.root).mkdir(exist_ok=True)
    return None


def _spec(ws: Workspace, run: Run, environment=None) -> ProcessSpec:
    job = run.execution.job
    run_vars = {
        **(job.env or {}),
        **run.secret_vars,
        **run.limits.process_env(),
        "PARSEQ_RUN_ID": str(run.execution.pk),
        "PARSEQ_JOB": job.slug,
        "PARSEQ_RESULT_FILES_DIR": str(files.result_dir(ws.root)),
    }
    spec = ProcessSpec(
        script=ws.script,
        workdir=ws.root,
        env=clean_env(ws, run_vars),
        timeout=job.timeout or settings.PARSEQ_DEFAULT_TIMEOUT,
        grace=settings.PARSEQ_KILL_GRACE,
        log_limit=run.limits.log_bytes,
        tick_seconds=settings.PARSEQ_HEARTBEAT_SECONDS,
    )
    if environment is not None:  # environments/runs.py: its interpreter, its runtime copy
        environment.apply(spec)
    return spec


def _run_process(ws: Workspace, run: Run, environment=None) -> ProcessOutcome:
    execution_id = run.execution.pk
    if run.masker:  # secrets never reach the live log either, even split across chunks
        publisher = masking.MaskingChunkPublisher(execution_id, ws.log_file, run.masker)
    else:
        publisher = ChunkPublisher(execution_id, ws.log_file)
    echo, flush_echo = masking.masked_echo(run.echo, run.masker)

    def on_start(pid: int) -> None:
        run.pid = pid

    outcome = run_process(
        _spec(ws, run, environment),
        ws.log_file,
        on_start=on_start,
        on_tick=_ticker(ws, run, publisher),
        echo=echo,
    )
    flush_echo()
    run.published = publisher.offset > 0
    ws.reusable = outcome.left_nothing
    return outcome


def _ticker(ws: Workspace, run: Run, publisher: ChunkPublisher) -> Callable[[], str | None]:
    """The supervisor's heartbeat: publish the log, beat, and say why to stop, if so."""
    execution_id = run.execution.pk

    def on_tick() -> str | None:
        if SHUTDOWN.expired:
            return SHUTDOWN_STOP.format(grace=SHUTDOWN.grace)
        try:
            publisher.publish()
            stop = None if _beat(run) else _why_stopped(execution_id)
        except DatabaseError as exc:  # database away for a moment: the script keeps running
            logger.warning("execution %s: heartbeat skipped: %s", execution_id, exc)
            reset_connection()
            return None
        if run.heartbeat:
            run.heartbeat.touch()
        return stop or limits.breach_while_running(ws, run.limits)

    return on_tick


def _beat(run: Run) -> bool:
    """One statement per heartbeat (the first also records the pid); False when the
    run is no longer ours to keep going (a cancel was requested, or its status changed)."""
    rows = Execution.objects.filter(
        pk=run.execution.pk, status=Status.RUNNING, cancel_requested_at__isnull=True
    )
    fields = {"heartbeat_at": timezone.now()}
    if run.pid and not run.pid_written:
        fields["pid"] = run.pid
    alive = rows.update(**fields) == 1
    run.pid_written = run.pid_written or ("pid" in fields and alive)
    return alive


def _why_stopped(execution_id: int) -> str:
    row = Execution.objects.filter(pk=execution_id).values("status", "cancel_requested_at").first()
    if row and row["cancel_requested_at"] and row["status"] == Status.RUNNING:
        return "cancelled"
    status = row["status"] if row else "deleted"
    return f"stopped: the run was ended elsewhere ({status})"


def _judge_with_limits(outcome: ProcessOutcome, ws: Workspace, run: Run) -> Verdict:
    verdict = judge(outcome, ws, run.execution)
    breach = limits.breach_after_exit(outcome, ws, run.limits)
    if breach and verdict.status in (Status.SUCCEEDED, Status.FAILED):
        verdict = Verdict(Status.FAILED, breach, exit_code=verdict.exit_code)
    if breach == run.limits.output_message:
        limits.discard_outputs(ws)
    return verdict


def _store(ws: Workspace, run: Run, verdict: Verdict) -> dict:
    """Result files, log and output files into storage; the Execution fields to set.
    Storage down: the outputs are spooled on this host and the run says so."""
    execution_id = run.execution.pk
    masking.mask_file(ws.log_file, run.masker)
    _store_result_files(ws, execution_id, verdict)
    try:
        return retry_db(
            storage.store_outputs,
            run.execution,
            ws,
            drop_chunks=run.published,
            what=f"store {execution_id}",
        )
    except spool.STORAGE_ERRORS as exc:
        kept = spool.keep(execution_id, ws)
        logger.error("execution %s: outputs kept in %s: %s", execution_id, kept, exc)
        verdict.error = "\n".join(filter(None, [verdict.error, spool.note(exc, kept)]))
        return {}


def _store_result_files(ws: Workspace, execution_id: int, verdict: Verdict) -> None:
    """Files left in results/ become keys runs/<id>/<name> of the file storage API."""
    try:
        files.store_results(execution_id, ws.root)
    except Exception as exc:  # any storage backend error: the run cannot hand its keys back
        logger.exception("execution %s: storing result files failed", execution_id)
        message = f"could not store result files: {exc}"
        if verdict.status == Status.SUCCEEDED:
            verdict.status, verdict.result, verdict.error = Status.FAILED, None, message
        else:
            verdict.error = "\n".join(filter(None, [verdict.error, message]))


NUL_IN_RESULT = "the result contains a NUL character (\\u0000), which cannot be stored"


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
        if "\\u0000" in json.dumps(result):  # PostgreSQL's jsonb cannot hold a NUL
            return Verdict(Status.FAILED, NUL_IN_RESULT, exit_code=code)
        return Verdict(Status.SUCCEEDED, result=result, exit_code=code)
    return Verdict(Status.FAILED, failure_message(code, ws, execution), exit_code=code)


def failure_message(code: int | None, ws: Workspace, execution: Execution) -> str:
    try:
        reported = ws.read_json(ws.error_file)
    except ValueError:
        reported = None
    if isinstance(reported, dict) and reported.get("error"):
        return str(reported["error"])
    if code is not None and code < 0:  # limits.breach_after_exit names a CPU limit it hit
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:  # a real-time signal has no name
            return f"killed by signal {-code}"
    return f"exit code {code}"
