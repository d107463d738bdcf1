"""In a task's run process (Django set up): call the task function an Execution records.

``code.invoke`` calls ``run_task`` for a job of kind ``task``: the task object is
imported by its entrypoint, its function called with the run's ``{"args", "kwargs"}``
(a ``takes_context`` task gets a TaskContext first, its ``task_result`` read from the
database by the run's id), and what it returns is the run's JSON result.
"""

from __future__ import annotations

from scripts_app.code import entrypoints
from scripts_app.task_api import Task, TaskContext, normalize_json, task_started


class TaskCallError(Exception):
    """The task cannot be called, or what it returned cannot be stored: the run fails."""


def run_task(entrypoint: str, params: dict, context: dict) -> object:
    """Run the task ``entrypoint`` (``"package.module:qualname"``) with ``params``;
    its JSON-normalised return value."""
    task = load_task(entrypoint)
    args, kwargs = _call_of(params)
    result = _task_result(task, context)
    if result is not None:  # where the task runs, as the framework's own workers do
        task_started.send_robust(type(task.get_backend()), task_result=result)
    if task.takes_context:
        if result is None:
            raise TaskCallError(f"{task.module_path} takes a context, but the run has no id")
        value = task.call(TaskContext(task_result=result), *args, **kwargs)
    else:
        value = task.call(*args, **kwargs)
    try:
        return normalize_json(value)
    except (TypeError, ValueError) as exc:
        raise TaskCallError(
            f"task {task.module_path} returned a value that is not JSON-serialisable: {exc}"
        ) from None


def load_task(entrypoint: str) -> Task:
    """The Task object ``entrypoint`` names."""
    try:
        target = entrypoints.resolve(entrypoint)
    except entrypoints.EntrypointError as exc:
        raise TaskCallError(str(exc)) from None
    if not isinstance(target, Task):
        raise TaskCallError(f"{entrypoint} is not a task (decorate it with @task)")
    return target


def _call_of(params: dict) -> tuple[list, dict]:
    """The call's args and kwargs; a run started with no params (Run now) has none."""
    args, kwargs = (params or {}).get("args", []), (params or {}).get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise TaskCallError('a task run\'s params are {"args": [...], "kwargs": {...}}')
    return args, kwargs


def _task_result(task: Task, context: dict):
    """The TaskResult of this run, read through the task's own backend (None when the
    caller names no run)."""
    run_id = context.get("execution_id") or context.get("run_id")
    if not run_id:
        return None
    return task.get_result(str(run_id))
