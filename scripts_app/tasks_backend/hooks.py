"""The framework's ``task_started``/``task_finished`` signals, sent where the task runs.

``task_enqueued`` is sent by ``ParseqBackend.enqueue`` in the caller's process.
``task_started`` is sent in the run's own process by ``code/taskcall.run_task``, just
before the task is called, where the project's code and receivers live. ``finished``
(here) is called by the worker once the final status is written
(``worker/execution.carry_out``) and by the reaper, so a receiver reads the result as
``get_result`` will. A receiver's error is logged, never allowed to change the run.
"""

from __future__ import annotations

import logging

from scripts_app.models import Execution, JobKind
from scripts_app.task_api import task_finished
from scripts_app.tasks_backend import results

logger = logging.getLogger(__name__)


def finished(execution: Execution) -> None:
    """``task_finished`` for a task run that has just reached its final status; nothing
    for any other run. ``execution`` is fresh, with its job."""
    if execution.job.kind != JobKind.TASK:
        return
    try:
        task = results.task_of(execution)
        backend = task.get_backend()
        result = results.task_result(execution, backend.alias, task)
    except Exception:  # the task's module is gone or broken here: the run is final anyway
        logger.exception("execution %s: no task_finished signal", execution.pk)
        return
    for receiver, error in task_finished.send_robust(type(backend), task_result=result):
        if isinstance(error, Exception):
            logger.error("task_finished receiver %r failed: %r", receiver, error)
