"""A task's Execution read back as the framework's TaskResult, from any process.

The database is the store: ``get_result`` reads the row, so a result enqueued in one
process is read (and ``refresh()``-ed) in any other. What maps to what:

- id: the execution's id (as a string); args/kwargs: its params ``{"args", "kwargs"}``;
- status: queued → READY, running → RUNNING, succeeded → SUCCESSFUL, and every other
  final status (failed, timed out, cancelled, skipped) → FAILED, with an error saying why;
- enqueued_at / started_at / finished_at: created / started / finished times; the
  last attempt started when this execution did;
- worker_ids: the workers of this attempt and the ones before it (a retry is an
  execution of its own, pointing at the first one): ``attempts`` counts them;
- return_value: the run's JSON result; errors: the exception class and traceback the
  run recorded.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.module_loading import import_string

from scripts_app.task_api import Task, TaskError, TaskResult, TaskResultDoesNotExist
from scripts_app.task_api import TaskResultStatus as S

if TYPE_CHECKING:
    from scripts_app.models import Execution

STATUSES = {
    "queued": S.READY,
    "running": S.RUNNING,
    "succeeded": S.SUCCESSFUL,
}


class TaskRunError(Exception):
    """Names a task run that failed without an exception of its own (a worker lost)."""


class TaskTimedOut(TaskRunError):
    """The run went over its job's timeout and was killed."""


class TaskCancelled(TaskRunError):
    """Someone cancelled the run."""


class TaskSkipped(TaskRunError):
    """The run was recorded without running (its slot could not run)."""


NO_EXCEPTION = {
    "timed_out": TaskTimedOut,
    "cancelled": TaskCancelled,
    "skipped": TaskSkipped,
}
# The last line of a formatted traceback: "ValueError: boom", "pkg.mod.Error: boom"
# (traceback.format_exception_only writes non-builtin classes with their module).
_LAST_LINE = re.compile(r"^(?P<cls>[A-Za-z_][\w.]*)(?::|$)")


def task_of(execution: Execution) -> Task:
    """The Task object the execution runs, imported from its job's entrypoint, with this
    call's queue, priority and run_after (as enqueued)."""
    module, _, qualname = execution.job.entrypoint.partition(":")
    task = import_string(f"{module}.{qualname}")
    if not isinstance(task, Task):
        raise TaskResultDoesNotExist(f"{execution.job.entrypoint} is not a task")
    return task.using(
        queue_name=execution.queue,
        priority=execution.priority,
        run_after=execution.not_before,
    )


def task_result(execution: Execution, backend_alias: str, task: Task | None = None) -> TaskResult:
    """The TaskResult of ``execution`` (a run of a task job; its job loaded)."""
    params = execution.params or {}
    status = STATUSES.get(execution.status, S.FAILED)
    result = TaskResult(
        task=task or task_of(execution),
        id=str(execution.pk),
        status=status,
        enqueued_at=execution.created_at,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        last_attempted_at=execution.started_at,
        args=params.get("args", []),
        kwargs=params.get("kwargs", {}),
        backend=backend_alias,
        errors=[task_error(execution)] if status == S.FAILED else [],
        worker_ids=worker_ids(execution),
    )
    if status == S.SUCCESSFUL:
        object.__setattr__(result, "_return_value", execution.result)
    return result


def task_error(execution: Execution) -> TaskError:
    """The error of a failed run: the exception its code raised, with the traceback
    the run recorded; a run that ended without one is named by how it ended."""
    text = execution.error or f"the run ended {execution.status}"
    cls = NO_EXCEPTION.get(execution.status)
    if cls is None:
        return TaskError(exception_class_path=raised_class(text), traceback=text)
    return TaskError(exception_class_path=f"{cls.__module__}.{cls.__qualname__}", traceback=text)


def raised_class(traceback: str) -> str:
    """The exception class a recorded traceback ends with, as an import path.

    Execution.error holds the formatted traceback only, so its last line is where the
    class is written (a builtin bare, any other with its module)."""
    lines = traceback.rstrip().splitlines()
    # A long traceback is stored by its end, after "…" (the code run's error limit).
    whole_or_end = traceback.startswith(("Traceback", "…"))
    match = _LAST_LINE.match(lines[-1]) if lines and whole_or_end else None
    if match is None:
        return f"{TaskRunError.__module__}.{TaskRunError.__qualname__}"
    name = match.group("cls")
    return name if "." in name else f"builtins.{name}"


def worker_ids(execution: Execution) -> list[str]:
    """The workers of every attempt up to this one that started."""
    if execution.attempt <= 1 or execution.retry_of_id is None:
        return [execution.worker] if execution.started_at else []
    from scripts_app.models import Execution

    first = execution.retry_of_id
    earlier = (
        Execution.objects.filter(Q(pk=first) | Q(retry_of_id=first))
        .filter(attempt__lte=execution.attempt, started_at__isnull=False)
        .order_by("attempt")
        .values_list("worker", flat=True)
    )
    return list(earlier)


def get_result(result_id: Any, backend_alias: str) -> TaskResult:
    """The TaskResult with this id; TaskResultDoesNotExist if there is no such task run."""
    from scripts_app.models import Execution, JobKind

    try:
        pk = int(result_id)
    except (TypeError, ValueError):
        raise TaskResultDoesNotExist(result_id) from None
    execution = (
        Execution.objects.select_related("job").filter(pk=pk, job__kind=JobKind.TASK).first()
    )
    if execution is None:
        raise TaskResultDoesNotExist(result_id)
    return task_result(execution, backend_alias)
