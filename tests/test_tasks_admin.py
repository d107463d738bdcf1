"""A task function in the admin and the API: a job named by its import path, with its
runs and their results (the code-job page itself — no upload — comes with code jobs)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scripts_app.models import Execution, Job, JobKind, Status
from tests.tasks_app.tasks import add


def staff(user) -> Client:
    type(user).objects.filter(pk=user.pk).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_a_task_function_is_listed_as_a_job_named_by_its_import_path(alice):
    add.enqueue(1, b=2)
    page = staff(alice).get(reverse("admin:scripts_app_job_changelist"))
    assert page.status_code == 200
    assert "tests.tasks_app.tasks.add" in page.content.decode()


def test_a_task_run_shows_its_params_and_result_in_the_admin(alice):
    result = add.enqueue(20, b=22)
    Execution.objects.filter(pk=result.id).update(
        status=Status.SUCCEEDED, started_at=timezone.now(), finished_at=timezone.now(), result=42
    )
    page = staff(alice).get(reverse("admin:scripts_app_execution_change", args=[result.id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "tests.tasks_app.tasks.add" in html and "Task (Django task API)" in html
    assert "42" in html and "&quot;kwargs&quot;" in html


def test_a_task_job_and_its_runs_are_in_the_api(api):
    result = add.enqueue(1)
    job = Job.objects.get(kind=JobKind.TASK)
    listed = api.get("/api/v1/executions/", {"job": job.slug}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [int(result.id)]
    assert rows[0]["trigger"] == "task"
    assert rows[0]["params"] == {"args": [1], "kwargs": {}}
    assert api.get(f"/api/v1/jobs/{job.slug}/").json()["name"] == "tests.tasks_app.tasks.add"
