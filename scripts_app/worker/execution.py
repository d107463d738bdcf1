"""Carrying out one execution on a worker: claim, run (``steps``), finish, follow-ups.

The supervisor (this module), never the script, writes the final status.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from scripts_app.errors import SecretUnreadable
from scripts_app.jobs import masking, secrets
from scripts_app.models import Execution, Job, JobSecret, Status
from scripts_app.observability import logs
from scripts_app.runs import concurrency, dispatch, followups, sending, state
from scripts_app.runs.prepared import PreparedQuery
from scripts_app.tasks_backend import hooks
from scripts_app.worker import limits, steps
from scripts_app.worker.resilience import Heartbeat, heartbeat_while, retry_db
from scripts_app.worker.shutdown import SHUTDOWN
from scripts_app.worker.steps import Run
from scripts_app.worker.verdict import Verdict, worker_error

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    execution = _RUN_QUERY.first(execution_id)
    if execution is not None:
        logs.bind_run(execution)  # this thread's log lines now carry execution_id and job
    return execution


def trigger_here(
    job: Job, *, params: Any, trigger: str, email: Any = None
) -> tuple[Execution, bool]:
    """Record a run to carry out in this process (``manage.py <slug>``), claimed in the
    same transaction when the caps allow: no relay or re-send ever sees it queued.
    False: it waits for a slot like any queued run."""
    with transaction.atomic():
        run = dispatch.trigger(job, params=params, trigger=trigger, send=False, email=email)
        claimed = concurrency.claim(run.pk, worker_id())
    return run, claimed


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
            verdict, fields = steps.run_in_workspace(run)
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
        hooks.finished(execution)  # a task's task_finished signal (nothing for other runs)
    return execution


def _load(execution_id: int, loaded: Execution | None, echo, heartbeat: Heartbeat) -> Run:
    execution = loaded or retry_db(_fetch, execution_id, what=f"load {execution_id}")
    try:
        has_secrets = getattr(execution, "has_secrets", True)
        secret_vars, unreadable = secrets.secret_env(execution.job) if has_secrets else {}, ""
    except SecretUnreadable as exc:
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
    retry_db(sending.mark_unsent, [execution_id], what=f"unsend {execution_id}")
