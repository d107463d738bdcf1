"""In a code job's process: resolve its entrypoint and call it; its result as JSON.

``function(data)`` for ``@job``, ``Class().run(data)`` for ``BaseJob``; a task (kind
``task``) goes through ``scripts_app.code.taskcall.run_task`` (the Django task API's
side). As for scripts (``bootstrap.run``), ``None`` becomes ``{}`` (a task's stays
``None``) and a result that is not JSON fails the run saying so.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from scripts_app.code import entrypoints

KIND_CODE = "code"
KIND_TASK = "task"

# Where entrypoints are resolved (re-exported: the worker's child and tests use them here).
EntrypointError = entrypoints.EntrypointError
resolve = entrypoints.resolve


def call(kind: str, entrypoint: str, params: dict, context: dict | None = None) -> Any:
    """Run the code job (or task) ``entrypoint`` with ``params``; what it returned."""
    if kind == KIND_TASK:
        from scripts_app.code import taskcall

        return taskcall.run_task(entrypoint, params, context or {})
    if kind != KIND_CODE:
        raise EntrypointError(f"a {kind!r} job is not run as code")
    target = resolve(entrypoint)
    if inspect.isclass(target):
        return target().run(params)
    if not callable(target):
        raise EntrypointError(f"entrypoint {entrypoint} is not callable")
    return target(params)


def encode_result(result: Any, kind: str = KIND_CODE) -> str:
    """The result file's text; TypeError when the result is not JSON. A task's None stays
    None (Django's task API: ``return_value`` is what the function returned)."""
    if result is None and kind != KIND_TASK:  # seed 003: "None becomes an empty {}"
        result = {}
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the job returned a value that is not JSON-serialisable: {exc}") from None
