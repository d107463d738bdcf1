"""ParseqBackend: Django's task API records runs, sends them on commit and reads results
back from the database (tests/settings.py TASKS; tasks in tests/tasks_app/tasks.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import dramatiq
import pytest
from django.db import transaction
from django.utils import timezone

from scripts_app.models import Execution, Job, JobKind, Status, Trigger
from scripts_app.runs import concurrency, dispatch
from scripts_app.task_api import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
    default_task_backend,
    normalize_json,
    task_backends,
    task_enqueued,
)
from scripts_app.tasks_backend import ParseqBackend
from tests.tasks_app.tasks import add, add_later, crunch, explode


@pytest.fixture
def broker():
    """The suite's real in-process broker, keeping what is sent to it (as a worker's does)."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    broker.consuming = True
    yield broker
    broker.consuming = False
    broker.flush_all()


def messages(broker, queue: str = "default") -> list[int]:
    """Execution ids waiting in ``queue`` (or its delay queue, ``queue.DQ``)."""
    found = []
    for name in (queue, f"{queue}.DQ"):
        if name in broker.queues:
            found += [json.loads(raw)["args"][0] for raw in list(broker.queues[name].queue)]
    return found


def test_the_default_backend_is_parseqs():
    assert isinstance(task_backends["default"], ParseqBackend)
    assert task_backends["default"].queues == {"default", "heavy"}


def test_enqueue_records_a_queued_run_of_the_task_functions_job(db):
    result = add.enqueue(2, b=3)
    run = Execution.objects.select_related("job").get()
    job = run.job
    assert (job.kind, job.name, job.entrypoint) == (
        JobKind.TASK,
        "tests.tasks_app.tasks.add",
        "tests.tasks_app.tasks:add",
    )
    assert job.slug == "tests-tasks_app-tasks-add"
    job.full_clean()  # a valid job: unique, allowed slug; an entrypoint, no script
    assert (run.status, run.trigger, run.queue) == (Status.QUEUED, Trigger.TASK, "default")
    assert (run.params, run.priority) == ({"args": [2], "kwargs": {"b": 3}}, 0)
    assert run.script_version_id is None
    assert result.id == str(run.pk)
    assert result.status == TaskResultStatus.READY
    assert (result.args, result.kwargs) == ([2], {"b": 3})
    assert result.enqueued_at == run.created_at
    assert result.worker_ids == [] and result.errors == []


def test_every_enqueue_of_a_task_is_a_run_of_the_same_job(db):
    first, second = add.enqueue(1), add.enqueue(2)
    assert first.id != second.id
    assert Job.objects.filter(kind=JobKind.TASK).count() == 1
    assert Job.objects.get().executions.count() == 2


def test_a_task_whose_slug_is_taken_gets_a_slug_of_its_own(db, make_job):
    make_job(slug="tests-tasks_app-tasks-add")
    add.enqueue(1)
    job = Job.objects.get(kind=JobKind.TASK)
    assert job.slug == "tests-tasks_app-tasks-add-2"
    add.enqueue(2)
    assert Job.objects.filter(kind=JobKind.TASK).count() == 1


def test_outside_a_transaction_the_run_is_sent_at_once(transactional_db, broker):
    result = add.enqueue(1, 2)
    assert messages(broker) == [int(result.id)]
    assert Execution.objects.get().sent_at is not None


def test_inside_a_transaction_the_run_is_sent_once_it_commits(transactional_db, broker):
    with transaction.atomic():
        result = add.enqueue(1, 2)
        assert Execution.objects.get().sent_at is None
        assert messages(broker) == []
    assert messages(broker) == [int(result.id)]
    assert Execution.objects.get().sent_at is not None


def test_a_rolled_back_enqueue_leaves_no_row_and_sends_nothing(transactional_db, broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        add.enqueue(1, 2)
        raise RuntimeError("the caller's transaction fails")
    assert not Execution.objects.exists()
    assert not Job.objects.exists()
    assert messages(broker) == []


@pytest.mark.parametrize(
    "bad",
    [object(), datetime(2026, 1, 1), {1, 2}, b"\xff"],
    ids=["object", "datetime", "set", "bytes-not-utf8"],
)
def test_arguments_that_are_not_json_are_refused_with_the_frameworks_error(db, bad):
    with pytest.raises((TypeError, ValueError)) as refused:
        add.enqueue(bad)
    with pytest.raises(type(refused.value)):  # exactly what the framework itself raises
        normalize_json({"args": [bad], "kwargs": {}})
    with pytest.raises(type(refused.value)):
        add.enqueue(1, b=bad)
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "bad, error",
    [(float("nan"), ValueError), (float("inf"), ValueError), ({1: "one"}, TypeError)],
    ids=["nan", "infinity", "int-key"],
)
def test_arguments_json_would_change_are_refused_with_the_same_errors(db, bad, error):
    with pytest.raises(error, match="task arguments must survive JSON"):
        add.enqueue(bad)
    assert not Execution.objects.exists()


def test_a_tuple_argument_is_stored_as_the_list_json_makes_of_it(db):
    result = add.enqueue((1, 2), b=[3])
    assert Execution.objects.get().params["args"] == [[1, 2]]
    assert result.args == [[1, 2]]


def test_a_queue_name_not_in_queues_is_the_frameworks_invalid_task(db):
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        add.using(queue_name="nope")
    assert not Execution.objects.exists()


def test_queue_name_is_the_runs_parseq_queue(db, make_job):
    crunch.enqueue(3)
    add.using(queue_name="heavy").enqueue(1)
    assert sorted(Execution.objects.values_list("queue", flat=True)) == ["heavy", "heavy"]
    assert Job.objects.get(entrypoint="tests.tasks_app.tasks:crunch").queue == "heavy"


def test_priority_is_stored_with_the_run(db):
    crunch.enqueue(3)
    add.using(priority=-5).enqueue(1)
    stored = dict(Execution.objects.values_list("job__name", "priority"))
    assert stored == {"tests.tasks_app.tasks.crunch": 10, "tests.tasks_app.tasks.add": -5}
    with pytest.raises(InvalidTask, match="priority"):
        add.using(priority=101)


def test_run_after_holds_the_run_back_until_it_is_due(transactional_db, broker):
    later = timezone.now() + timedelta(minutes=10)
    result = add.using(run_after=later).enqueue(1)
    run = Execution.objects.get()
    assert run.not_before == later
    assert result.task.run_after == later
    assert messages(broker, "default") == [run.pk]  # delayed: on the delay queue
    assert "default.DQ" in broker.queues and broker.queues["default.DQ"].qsize() == 1
    assert not concurrency.claim(run.pk, "w:1")  # the worker refuses it early
    assert run.pk not in {run[0] for run in concurrency.startable()}  # relay, re-send
    assert concurrency.claim(run.pk, "w:1", now=later + timedelta(seconds=1))


def test_a_run_after_already_past_is_sent_at_once(transactional_db, broker):
    result = add.using(run_after=timezone.now() - timedelta(minutes=1)).enqueue(1)
    assert broker.queues["default"].qsize() == 1 and messages(broker) == [int(result.id)]
    assert concurrency.claim(int(result.id), "w:1")


def test_run_after_must_be_aware(db):
    with pytest.raises(InvalidTask, match="aware"):
        add.using(run_after=datetime(2030, 1, 1))


def test_enqueue_sends_the_frameworks_task_enqueued_signal(db):
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append((sender, task_result.id, task_result.status))

    task_enqueued.connect(receiver)
    try:
        result = add.enqueue(1)
    finally:
        task_enqueued.disconnect(receiver)
    assert seen == [(ParseqBackend, result.id, TaskResultStatus.READY)]


def test_an_async_enqueue_and_get_result_work_from_async_code(transactional_db):
    from asgiref.sync import async_to_sync

    result = async_to_sync(add_later.aenqueue)(1, 2)
    again = async_to_sync(add_later.aget_result)(result.id)
    assert (again.id, again.status, again.args) == (result.id, TaskResultStatus.READY, [1, 2])


def test_a_backend_with_a_bad_queue_name_fails_the_check():
    backend = ParseqBackend("bad", {"QUEUES": ["default", "no spaces"]})
    errors = list(backend.check())
    assert [e.id for e in errors] == ["parseq.E101"]
    assert "'no spaces'" in errors[0].msg


def test_get_result_of_an_unknown_id_is_result_does_not_exist(db, make_job):
    script_run = dispatch.trigger(make_job(), trigger=Trigger.API, send=False)
    for unknown in ("999999", "not-a-number", str(script_run.pk)):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(unknown)


def test_a_result_is_read_in_another_process(database_url):
    result = add.enqueue(4, b=5)
    Execution.objects.filter(pk=result.id).update(
        status=Status.SUCCEEDED, started_at=timezone.now(), finished_at=timezone.now(), result=9
    )
    code = (
        "import django; django.setup()\n"
        "from tests.tasks_app.tasks import add\n"
        f"r = add.get_result({result.id!r})\n"
        "print(r.status, r.return_value, r.args, r.kwargs)\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SUCCESSFUL 9 [4] {'b': 5}"


def test_a_tasks_get_result_refuses_another_tasks_id(db):
    from scripts_app.task_api import TaskResult

    result = add.enqueue(1)
    with pytest.raises(Exception, match="Task does not match") as mismatch:
        explode.get_result(result.id)
    assert type(mismatch.value).__name__ == "TaskResultMismatch"
    assert isinstance(add.get_result(result.id), TaskResult)


def test_a_higher_priority_task_starts_first_among_queued_runs(db):
    from scripts_app.runs import concurrency

    low = add.using(priority=-20).enqueue(1)
    default = add.enqueue(2)
    high = add.using(priority=50).enqueue(3)
    order = [str(run[0]) for run in concurrency.startable()]
    assert order == [high.id, default.id, low.id]  # not the order they were enqueued in
    assert add.get_result(high.id).task.priority == 50
