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

from scripts_app import validators
from scripts_app.code import registry
from scripts_app.jobs import slugs
from scripts_app.models import Execution, Job, JobKind, Trigger
from scripts_app.runs import dispatch
from scripts_app.task_api import Task


def entrypoint(task: Task) -> str:
    """``"package.module:qualname"`` of the task function (what the worker imports)."""
    return registry.entrypoint_of(task.func)


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
    return dispatch.trigger(  # on commit inside a transaction; delayed until run_after
        task_job(task),
        params=call,
        priority=task.priority,
        trigger=Trigger.TASK,
        queue=task.queue_name,
        not_before=task.run_after,
    )
