"""run_task: what a task run's process does (Django set up) — the task function called
with the run's args and kwargs, a context for takes_context, a JSON result or a clear
failure. Called here directly, as the code jobs' child calls it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from scripts_app.code.taskcall import TaskCallError, run_task
from scripts_app.models import Execution, Status
from scripts_app.task_api import TaskResultStatus, task_started
from scripts_app.tasks_backend import ParseqBackend
from tests.tasks_app.tasks import TaskFailed, add, who_am_i


def running(result_id: str) -> None:
    Execution.objects.filter(pk=result_id).update(
        status=Status.RUNNING, started_at=timezone.now(), worker="host:1"
    )


def test_it_calls_the_task_function_with_the_runs_args_and_kwargs(db):
    result = add.enqueue(2, b=40)
    params = Execution.objects.get(pk=result.id).params
    assert run_task("tests.tasks_app.tasks:add", params, {"execution_id": int(result.id)}) == 42


def test_a_run_with_no_params_calls_the_task_with_no_arguments():
    # Run now in the admin with the default params ({}).
    assert run_task("tests.tasks_app.tasks:greet", {}, {}) == "hello"


def test_a_takes_context_task_gets_its_own_task_result(db):
    result = who_am_i.enqueue(tag="x")
    running(result.id)
    params = Execution.objects.get(pk=result.id).params
    got = run_task("tests.tasks_app.tasks:who_am_i", params, {"execution_id": int(result.id)})
    assert got == {"id": result.id, "attempt": 1, "tag": "x"}
    # The code jobs' child names the run "run_id": the same run.
    assert run_task("tests.tasks_app.tasks:who_am_i", params, {"run_id": int(result.id)}) == got


def test_a_takes_context_task_without_a_run_id_fails_clearly():
    with pytest.raises(TaskCallError, match="takes a context, but the run has no id"):
        run_task("tests.tasks_app.tasks:who_am_i", {}, {})


def test_it_sends_task_started_where_the_task_runs(db):
    result = add.enqueue(1)
    running(result.id)
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append((sender, task_result.id, task_result.status))

    task_started.connect(receiver)
    try:
        run_task("tests.tasks_app.tasks:add", {"args": [1]}, {"execution_id": int(result.id)})
    finally:
        task_started.disconnect(receiver)
    assert seen == [(ParseqBackend, result.id, TaskResultStatus.RUNNING)]


def test_an_async_task_is_run_to_completion():
    assert run_task("tests.tasks_app.tasks:add_later", {"args": [1, 2]}, {}) == 3


def test_a_result_that_is_not_json_fails_the_run_saying_so():
    with pytest.raises(TaskCallError, match="returned a value that is not JSON-serialisable"):
        run_task("tests.tasks_app.tasks:returns_a_set", {}, {})


def test_a_tuple_result_is_the_list_json_makes_of_it():
    assert run_task("tests.tasks_app.tasks:crunch", {"args": [3]}, {}) == [0, 1, 2]


def test_the_tasks_own_exception_propagates_with_its_traceback():
    with pytest.raises(TaskFailed, match="no good: because") as raised:
        run_task("tests.tasks_app.tasks:explode", {"args": ["because"]}, {})
    assert raised.traceback[-1].name == "_explode"


@pytest.mark.parametrize(
    "entrypoint, message",
    [
        ("tests.tasks_app.tasks.add", "is not 'package.module:qualname'"),
        ("tests.tasks_app.tasks:missing", "has no 'missing'"),
        ("tests.tasks_app.tasks:_explode", "is not a task"),
    ],
)
def test_an_entrypoint_that_is_not_a_task_fails_clearly(entrypoint, message):
    with pytest.raises(TaskCallError, match=message):
        run_task(entrypoint, {}, {})


def test_params_that_are_not_a_call_fail_clearly():
    with pytest.raises(TaskCallError, match='"args": \\[...\\], "kwargs"'):
        run_task("tests.tasks_app.tasks:add", {"args": {"a": 1}}, {})
