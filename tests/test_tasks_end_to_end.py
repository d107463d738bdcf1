"""Django's task API end to end: a task enqueued in one process, run by a real Dramatiq
worker (its Django child, as code jobs run), its result read in another process.

These need the code-job runner (the worker's Django child calling
``scripts_app.code.taskcall.run_task``): they pass once that runner is merged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scripts_app.admin.forms import RAW_FIELD
from scripts_app.models import FINAL_STATUSES, Execution, Job, JobKind, Status
from scripts_app.task_api import TaskResultStatus
from tests.tasks_app.tasks import (
    TaskFailed,
    add,
    explode,
    greet,
    nothing,
    returns_a_set,
    who_am_i,
)


@pytest.fixture
def live(database_url, worker, monkeypatch):
    """A worker running; the runs' Django children use this test's database."""
    monkeypatch.setenv("PARSEQ_TEST_CHILD_DB", connection.settings_dict["NAME"])
    return database_url


def in_another_process(database_url: str, code: str) -> str:
    """Run ``code`` in a fresh Python with Django set up on this test's database."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_final(result_id: str, timeout: float = 90) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Execution.objects.get(pk=result_id)
        if run.status in FINAL_STATUSES:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {result_id} is still {run.status}: {run.error}")


def test_a_task_enqueued_in_one_process_runs_and_its_result_is_read_in_another(live):
    result_id = in_another_process(
        live, "from tests.tasks_app.tasks import add\nprint(add.enqueue(2, b=40).id)"
    )
    run = wait_final(result_id)
    assert run.status == Status.SUCCEEDED, run.error
    read = in_another_process(
        live,
        "import json\nfrom tests.tasks_app.tasks import add\n"
        f"r = add.get_result({result_id!r})\n"
        "print(json.dumps([r.status, r.return_value, r.attempts, r.is_finished]))",
    )
    assert json.loads(read) == ["SUCCESSFUL", 42, 1, True]


def test_run_after_is_honoured(live):
    due = timezone.now() + timedelta(seconds=4)
    result = add.using(run_after=due).enqueue(1, b=1)
    time.sleep(2)
    result.refresh()
    assert result.status == TaskResultStatus.READY  # not before its time
    run = wait_final(result.id)
    assert run.status == Status.SUCCEEDED, run.error
    assert run.started_at >= due
    result.refresh()
    assert result.return_value == 2


def test_a_task_enqueued_in_a_rolled_back_transaction_never_runs(live):
    with pytest.raises(RuntimeError), transaction.atomic():
        add.enqueue(1)
        raise RuntimeError("roll back")
    control = add.enqueue(5)  # a run after it does run: the worker was there to run both
    assert wait_final(control.id).status == Status.SUCCEEDED
    assert list(Execution.objects.values_list("pk", flat=True)) == [int(control.id)]


def test_a_failing_tasks_traceback_is_in_get_result(live):
    result = explode.enqueue("on purpose")
    assert wait_final(result.id).status == Status.FAILED
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    [error] = result.errors
    assert error.exception_class is TaskFailed
    assert "in _explode" in error.traceback
    assert error.traceback.rstrip().endswith("TaskFailed: no good: on purpose")


def test_a_takes_context_task_gets_its_own_result(live):
    result = who_am_i.enqueue(tag="ctx")
    assert wait_final(result.id).status == Status.SUCCEEDED
    result.refresh()
    assert result.return_value == {"id": result.id, "attempt": 1, "tag": "ctx"}


def test_a_task_that_returns_none_has_none_as_its_return_value(live):
    result = nothing.enqueue()
    assert wait_final(result.id).status == Status.SUCCEEDED
    result.refresh()
    assert result.return_value is None


def test_a_task_whose_result_is_not_json_fails_saying_so(live):
    result = returns_a_set.enqueue()
    run = wait_final(result.id)
    assert run.status == Status.FAILED
    assert "not JSON-serialisable" in run.error


def test_the_admin_page_of_a_task_has_no_upload_and_run_now_calls_it_with_no_args(live, alice):
    greet.enqueue()
    job = Job.objects.get(kind=JobKind.TASK)
    client = Client()
    client.force_login(alice)
    html = client.get(reverse("admin:scripts_app_job_change", args=[job.pk])).content.decode()
    assert "tests.tasks_app.tasks:greet" in html
    assert 'name="script"' not in html
    assert "syncjobs disabled it" not in html  # a task is not a @job gone from the code
    response = client.post(reverse("admin:scripts_app_job_run", args=[job.pk]), {RAW_FIELD: "{}"})
    assert response.status_code == 302
    run_now = Execution.objects.filter(job=job).order_by("-id").first()
    done = wait_final(str(run_now.pk))
    assert (done.status, done.result) == (Status.SUCCEEDED, "hello")
