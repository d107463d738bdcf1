"""Recording an enqueued task as a Parseq run: the task function's Job row, then an
Execution (trigger ``task``) through the same trigger and send path as every run.

A task function is a Job of kind ``task``, named by its import path, made on its first
enqueue; its runs, logs and results are an ordinary job's. The call is the run's params
``{"args": [...], "kwargs": {...}}`` (its priority is the run's ``priority``); ``run_after`` is the run's
``not_before`` (as a retry's backoff): its message is sent delayed, the worker's claim
refuses it early, and the relay and the scheduler's re-send pick it only once due.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from scripts_app import validators
from scripts_app.jobs import slugs
from scripts_app.models import Execution, Job, JobKind, Trigger
from scripts_app.runs import dispatch, sending
from scripts_app.task_api import Task

NO_VERSION: tuple[None, str] = (None, "")  # a task runs the project's code, not a script


def entrypoint(task: Task) -> str:
    """``"package.module:qualname"`` of the task function (what the worker imports)."""
    return f"{task.func.__module__}:{task.func.__qualname__}"


def task_job(task: Task) -> Job:
    """The Job of ``task``'s function, made on first use.

    Its slug comes from the import path, so two processes making it at once collide on
    the slug: the loser finds the winner's row. A slug taken by another job gets a
    suffix (``slugs.unique_slug``)."""
    found = _find(task)
    if found is not None:
        return found
    base = slugs.slug_base(task.module_path.replace(".", "-"))
    for slug in (base if _allowed(base) else None, None):
        job = Job(
            name=task.module_path[: Job._meta.get_field("name").max_length],
            slug=slug or slugs.unique_slug(base),
            kind=JobKind.TASK,
            entrypoint=entrypoint(task),
            queue=task.queue_name,
            description=f"Django task {task.module_path} (enqueued with the task API).",
        )
        try:
            with transaction.atomic():
                job.save(force_insert=True)
            return job
        except IntegrityError:
            found = _find(task)
            if found is not None:
                return found
    raise IntegrityError(f"could not make the job of task {task.module_path}")


def _allowed(slug: str) -> bool:
    try:
        validators.validate_job_slug(slug)  # not a manage.py command's name
    except ValidationError:
        return False
    return True


def _find(task: Task) -> Job | None:
    return Job.objects.filter(kind=JobKind.TASK, entrypoint=entrypoint(task)).first()


def record(task: Task, call: dict) -> Execution:
    """Record a queued run of ``task`` with ``call`` (JSON-normalised args and kwargs)
    and send it: after commit inside a transaction (a rollback leaves neither row nor
    message), delayed until ``run_after`` when there is one."""
    job = task_job(task)
    execution = dispatch.trigger(
        job,
        params=call,
        priority=task.priority,
        trigger=Trigger.TASK,
        version=NO_VERSION,
        send=False,
        queue=task.queue_name,
        not_before=task.run_after,
    )
    pointer = [(execution.pk, execution.queue, execution.priority)]
    delay_ms = _delay_ms(execution)
    if transaction.get_connection().in_atomic_block:
        sending.send_on_commit(pointer, delay_ms=delay_ms)
    else:
        sending.send(pointer, delay_ms=delay_ms)
    return execution


def _delay_ms(execution: Execution) -> int | None:
    """How long to hold the message back: none for a run that is due already."""
    if execution.not_before is None:
        return None
    delay_ms = int((execution.not_before - timezone.now()).total_seconds() * 1000)
    return delay_ms if delay_ms > 0 else None
