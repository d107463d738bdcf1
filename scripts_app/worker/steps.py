"""The steps of one claimed run, in its workspace: script, params and input files in;
the script run under supervision (heartbeat, live log, cancel, limits); the verdict;
result files, log and artifacts stored (spooled on this host while storage is down)."""

from __future__ import annotations

import atexit
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from scripts_app.errors import ParseqError
from scripts_app.files import storage_api
from scripts_app.jobs import masking
from scripts_app.models import Execution, Status
from scripts_app.worker import (
    code_runs,
    environments,
    limits,
    outputs,
    result_file,
    sandboxing,
    script_cache,
    spool,
)
from scripts_app.worker.live_log import ChunkPublisher
from scripts_app.worker.resilience import Heartbeat, reset_connection, retry_db
from scripts_app.worker.runner.process import ProcessOutcome, ProcessSpec, run_process
from scripts_app.worker.runner.workspace import Workspace, WorkspacePool, clean_env
from scripts_app.worker.shutdown import SHUTDOWN, SHUTDOWN_STOP
from scripts_app.worker.verdict import Verdict, judge

logger = logging.getLogger(__name__)

WORKSPACES = WorkspacePool()
atexit.register(WORKSPACES.clear)  # a worker process clears it in ForkServer at shutdown


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


def run_in_workspace(run: Run) -> tuple[Verdict, dict]:
    """Workspace in, verdict and stored outputs out; the workspace is gone after."""
    with WORKSPACES.workspace(Path(settings.PARSEQ_WORK_DIR), sandboxing.owner()) as ws:
        outcome = _run_in(ws, run)
        verdict = judge(outcome, ws, run.execution)
        # The working directory joins outputs/; a result's "file_path" is the mail's file.
        attachment = result_file.collect(ws, verdict.result)
        verdict = _with_limits(verdict, outcome, ws, run)
        fields = _store(ws, run, verdict)
    if attachment and verdict.status == Status.SUCCEEDED:
        fields["mail_attachment"] = attachment
    if run.pid and not run.pid_written:
        fields["pid"] = run.pid
    return verdict, fields


def _run_in(ws: Workspace, run: Run) -> ProcessOutcome:
    stop = run.unreadable or _prepare(ws, run.execution)
    if stop:
        return ProcessOutcome(exit_code=None, stop_reason=stop)
    version = run.execution.script_version
    if version is not None and version.lock_sha256:  # declared dependencies: its environment
        return environments.run_in(version, ws.log_file, lambda env: _run_process(ws, run, env))
    return _run_process(ws, run)


def _prepare(ws: Workspace, execution: Execution) -> str | None:
    """Script, params and input files into the workspace; a reason to fail the run, if any."""
    try:
        if not code_runs.is_code(execution.job):  # a code job has no script version
            ws.script.write_bytes(script_cache.script_bytes(execution.script_version))
    except spool.STORAGE_ERRORS as exc:  # storage down: fail clearly, not as "worker lost"
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return f"could not read the script: {reason}"
    ws.params_file.write_text(json.dumps(execution.params), encoding="utf-8")
    try:  # params["input_files"]: the worker fetches them; scripts get no storage credentials
        storage_api.fetch_inputs(execution.params, ws.inputs)
    except (ParseqError, *spool.STORAGE_ERRORS) as exc:
        return f"input files: {exc}"[:300]
    storage_api.result_dir(ws.root).mkdir(exist_ok=True)
    return None


def _spec(ws: Workspace, run: Run, environment: environments.Prepared | None) -> ProcessSpec:
    job = run.execution.job
    run_vars = {
        **(job.env or {}),
        **run.secret_vars,
        **run.limits.process_env(),
        "PARSEQ_RUN_ID": str(run.execution.pk),
        "PARSEQ_JOB": job.slug,
        "PARSEQ_RESULT_FILES_DIR": str(storage_api.result_dir(ws.root)),
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
    if environment is not None:  # its interpreter, its runtime copy, its log line
        environment.apply(spec)
    if code_runs.is_code(job):  # trusted project code: with Django, not sandboxed
        code_runs.apply(spec, job)
    else:
        sandboxing.confine_spec(spec, ws, job.network)  # last: it sees the final paths
    return spec


def _run_process(
    ws: Workspace, run: Run, environment: environments.Prepared | None = None
) -> ProcessOutcome:
    execution_id = run.execution.pk
    # Secrets never reach the live log either, even split across chunks.
    publisher = ChunkPublisher(execution_id, ws.log_file, run.masker or None)
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


def _with_limits(verdict: Verdict, outcome: ProcessOutcome, ws: Workspace, run: Run) -> Verdict:
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
            outputs.store_outputs,
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
        storage_api.store_results(execution_id, ws.root)
    except Exception as exc:  # any storage backend error: the run cannot hand its keys back
        logger.exception("execution %s: storing result files failed", execution_id)
        message = f"could not store result files: {exc}"
        if verdict.status == Status.SUCCEEDED:
            verdict.status, verdict.result, verdict.error = Status.FAILED, None, message
        else:
            verdict.error = "\n".join(filter(None, [verdict.error, message]))
