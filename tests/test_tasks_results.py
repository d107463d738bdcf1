"""A task run read back as the framework's TaskResult: every Parseq status, the return
value, errors with the traceback, times, workers and attempts, refresh(), task_finished."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scripts_app.models import Execution, Status
from scripts_app.runs import records, retries
from scripts_app.task_api import TaskResultStatus, task_finished
from scripts_app.tasks_backend import ParseqBackend, hooks
from tests.tasks_app.tasks import TaskFailed, add, explode

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/tests/tasks_app/tasks.py", line 26, in _explode\n'
    '    raise TaskFailed(f"no good: {why}")\n'
    "tests.tasks_app.tasks.TaskFailed: no good: on purpose"
)


def ended(result_id: str, status: Status, **fields) -> None:
    now = timezone.now()
    fields.setdefault("started_at", now - timedelta(seconds=2))
    fields.setdefault("finished_at", now)
    Execution.objects.filter(pk=result_id).update(status=status, worker="host:42", **fields)


@pytest.mark.parametrize(
    "status, expected",
    [
        (Status.QUEUED, TaskResultStatus.READY),
        (Status.RUNNING, TaskResultStatus.RUNNING),
        (Status.SUCCEEDED, TaskResultStatus.SUCCESSFUL),
        (Status.FAILED, TaskResultStatus.FAILED),
        (Status.TIMED_OUT, TaskResultStatus.FAILED),
        (Status.CANCELLED, TaskResultStatus.FAILED),
        (Status.SKIPPED, TaskResultStatus.FAILED),
    ],
)
def test_every_parseq_status_maps_to_a_task_status(db, status, expected):
    result = add.enqueue(1)
    Execution.objects.filter(pk=result.id).update(status=status)
    assert add.get_result(result.id).status == expected


def test_a_successful_run_gives_its_return_value_and_times(db):
    result = add.enqueue(2, b=3)
    ended(result.id, Status.SUCCEEDED, result=5)
    done = add.get_result(result.id)
    run = Execution.objects.get(pk=result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.is_finished
    assert done.return_value == 5
    assert (done.enqueued_at, done.started_at, done.finished_at) == (
        run.created_at,
        run.started_at,
        run.finished_at,
    )
    assert done.last_attempted_at == run.started_at
    assert done.worker_ids == ["host:42"] and done.attempts == 1
    assert done.errors == []


def test_a_failed_run_gives_the_exception_class_and_traceback_it_recorded(db):
    result = explode.enqueue("on purpose")
    ended(result.id, Status.FAILED, error=TRACEBACK)
    failed = explode.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    [error] = failed.errors
    assert error.exception_class_path == "tests.tasks_app.tasks.TaskFailed"
    assert error.exception_class is TaskFailed
    assert error.traceback == TRACEBACK
    with pytest.raises(ValueError, match="Task failed"):
        failed.return_value  # noqa: B018 (the framework raises for a failed task)


def test_a_long_traceback_stored_by_its_end_still_names_its_exception(db):
    result = explode.enqueue("long")
    ended(result.id, Status.FAILED, error="…" + TRACEBACK[-80:])
    [error] = explode.get_result(result.id).errors
    assert error.exception_class is TaskFailed


def test_a_builtin_exception_is_named_under_builtins(db):
    result = add.enqueue("a")
    tb = "Traceback (most recent call last):\n  ...\nTypeError: can only concatenate str"
    ended(result.id, Status.FAILED, error=tb)
    [error] = add.get_result(result.id).errors
    assert error.exception_class is TypeError


@pytest.mark.parametrize(
    "status, error, cls_name",
    [
        (Status.TIMED_OUT, "timed out after 5 s", "TaskTimedOut"),
        (Status.CANCELLED, "cancelled by alice", "TaskCancelled"),
        (Status.FAILED, "worker lost: no heartbeat for 5 s", "TaskRunError"),
        (Status.FAILED, "", "TaskRunError"),
    ],
)
def test_a_run_that_ended_without_an_exception_is_named_by_how_it_ended(
    db, status, error, cls_name
):
    result = add.enqueue(1)
    ended(result.id, status, error=error)
    [task_error] = add.get_result(result.id).errors
    assert task_error.exception_class.__name__ == cls_name
    assert task_error.exception_class_path.startswith("scripts_app.tasks_backend.results.")
    assert task_error.traceback == (error or f"the run ended {status}")


def test_refresh_reads_the_run_as_it_is_now(db):
    result = add.enqueue(1, 1)
    assert result.status == TaskResultStatus.READY
    ended(result.id, Status.RUNNING, finished_at=None)
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING and result.worker_ids == ["host:42"]
    ended(result.id, Status.SUCCEEDED, result=2)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 2
    assert result.finished_at is not None


def test_a_retry_counts_the_attempts_and_workers_before_it(db):
    result = explode.enqueue("again")
    ended(result.id, Status.FAILED, error=TRACEBACK)
    first = Execution.objects.get(pk=result.id)
    retry = records.next_attempt(first, not_before=timezone.now())
    retry.save(force_insert=True)
    Execution.objects.filter(pk=retry.pk).update(
        status=Status.RUNNING, started_at=timezone.now(), worker="other:7"
    )
    again = explode.get_result(str(retry.pk))
    assert again.status == TaskResultStatus.RUNNING
    assert again.worker_ids == ["host:42", "other:7"] and again.attempts == 2
    assert (again.args, again.kwargs) == (["again"], {})
    assert explode.get_result(result.id).status == TaskResultStatus.FAILED  # its own attempt


def test_a_failing_task_is_retried_by_its_jobs_max_retries(db):
    result = explode.enqueue("retry me")
    first = Execution.objects.select_related("job").get(pk=result.id)
    first.job.max_retries = 1
    first.job.save()
    ended(result.id, Status.FAILED, error=TRACEBACK)
    retry = retries.schedule_retry(Execution.objects.select_related("job").get(pk=result.id))
    assert retry is not None and retry.params == first.params


def test_the_worker_sends_task_finished_with_the_final_result(db, make_job):
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append((sender, task_result.id, task_result.status, task_result.return_value))

    result = add.enqueue(20, 22)
    ended(result.id, Status.SUCCEEDED, result=42)
    task_finished.connect(receiver)
    try:
        hooks.finished(Execution.objects.select_related("job").get(pk=result.id))
        script_run = records.new_run(make_job(), trigger="api")
        script_run.save()
        hooks.finished(Execution.objects.select_related("job").get(pk=script_run.pk))
    finally:
        task_finished.disconnect(receiver)
    assert seen == [(ParseqBackend, result.id, TaskResultStatus.SUCCESSFUL, 42)]


def test_a_broken_task_finished_receiver_does_not_break_the_worker(db, caplog):
    def broken(sender, task_result, **kwargs):
        raise RuntimeError("receiver bug")

    result = add.enqueue(1)
    ended(result.id, Status.SUCCEEDED, result=1)
    task_finished.connect(broken)
    try:
        hooks.finished(Execution.objects.select_related("job").get(pk=result.id))
    finally:
        task_finished.disconnect(broken)
    assert "receiver bug" in caplog.text
