"""``ParseqBackend``: Django's task API on Parseq — each enqueued task is a recorded run
of its function's job, sent through Dramatiq and carried out by a Parseq worker."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core import checks
from django.core.exceptions import ValidationError

from scripts_app import validators
from scripts_app.task_api import (
    BaseTaskBackend,
    Task,
    TaskResult,
    normalize_json,
    task_enqueued,
)
from scripts_app.tasks_backend import results


class ParseqBackend(BaseTaskBackend):
    """``TASKS = {"default": {"BACKEND": "scripts_app.tasks_backend.ParseqBackend",
    "QUEUES": ["default", ...]}}``: a task's ``queue_name`` is the Parseq (Dramatiq)
    queue its runs go to, and must be one of ``QUEUES``."""

    supports_defer = True  # run_after: the run's not_before
    supports_async_task = True  # the worker calls a coroutine task to completion
    supports_get_result = True  # from the database, in any process
    supports_priority = True  # the run's priority: queued runs start highest first

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        """Record and send a run of ``task``; arguments that are not JSON are refused
        (``json_call``) before anything is written."""
        self.validate_task(task)
        call = json_call(args, kwargs)
        # Deferred: a backend is made when a task module is imported, maybe before the
        # app registry is ready; recording needs the models.
        from scripts_app.tasks_backend import recording

        execution = recording.record(task, call)
        result = results.task_result(execution, self.alias, task)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        """The result of a task run, read from the database; TaskResultDoesNotExist."""
        return results.get_result(result_id, self.alias)

    def check(self, **kwargs: Any) -> Iterable[checks.CheckMessage]:
        for queue in sorted(self.queues):
            try:
                validators.validate_queue_name(queue)
            except ValidationError as exc:
                yield checks.Error(
                    f"TASKS[{self.alias!r}]['QUEUES']: {queue!r}: {exc.messages[0]}",
                    id="parseq.E101",
                )


def json_call(args: Any, kwargs: Any) -> dict:
    """``{"args": [...], "kwargs": {...}}`` as JSON will store it.

    Refused with the framework's own errors, as its database backend refuses them
    (``normalize_json``: TypeError for a type JSON lacks, ValueError for a value), and
    with the same errors for what it lets through but JSON would change: NaN and
    infinities (which PostgreSQL's jsonb rejects) and mapping keys that are not strings.
    """
    call = normalize_json({"args": args, "kwargs": kwargs})
    try:
        text = json.dumps(call, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"task arguments must survive JSON: {exc}") from None
    if json.loads(text) != call:
        raise TypeError("task arguments must survive JSON: mapping keys must be strings")
    return call
