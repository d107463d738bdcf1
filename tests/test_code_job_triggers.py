"""Every edge works for a code job: the admin page and Run now (the schema form),
/scripts/<slug>/, the API, ``manage.py <slug>`` / ``call_command``, the scheduler."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scripts_app.code import sync
from scripts_app.models import Execution, Job, JobKind, Status, Trigger
from scripts_app.runs import control, dispatch
from scripts_app.scheduling import firing
from scripts_app.worker import execution
from tests.codejobs_app.models import Note


@pytest.fixture
def code_jobs(db):
    sync.sync_jobs()
    return Job.objects.get(slug="write-note")


@pytest.fixture
def live_code_jobs(transactional_db, monkeypatch):
    """Synced, committed, and their processes use this test database."""
    monkeypatch.setenv("PARSEQ_TEST_CHILD_DB", connection.settings_dict["NAME"])
    sync.sync_jobs()
    return Job.objects.get(slug="write-note")


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_page_shows_where_the_code_lives_and_has_no_upload(code_jobs, alice):
    page = admin_client(alice).get(reverse("admin:scripts_app_job_change", args=[code_jobs.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Defined in code" in html
    assert "tests.codejobs_app.jobs:write_note" in html
    assert "tests/codejobs_app/jobs.py" in html
    assert 'name="script"' not in html and 'name="requirements"' not in html
    assert 'name="timeout"' not in html  # given by the code: read-only
    assert 'name="cron"' in html and 'name="enabled"' in html  # the operator's


def test_an_admin_edit_of_the_schedule_saves_and_survives_a_sync(code_jobs, alice):
    url = reverse("admin:scripts_app_job_change", args=[code_jobs.pk])
    client = admin_client(alice)
    form = client.get(url).context["adminform"].form
    data = {"executions-TOTAL_FORMS": "0", "executions-INITIAL_FORMS": "0"}
    for name, field in form.fields.items():  # what the browser would send back
        value = form[name].value()
        if isinstance(value, dict):
            value = field.prepare_value(value)
        if value is not None and value != [] and value is not False:
            data[name] = value
    data.update(cron="15 2 * * *")
    del data["enabled"]  # unticked
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    sync.sync_jobs()
    code_jobs.refresh_from_db()
    assert (code_jobs.cron, code_jobs.enabled, code_jobs.kind) == ("15 2 * * *", False, "code")


def test_run_now_with_the_schema_form_records_a_run(code_jobs, alice):
    response = admin_client(alice).post(
        reverse("admin:scripts_app_job_run", args=[code_jobs.pk]), {"text": "from the form"}
    )
    assert response.status_code == 302
    run = Execution.objects.get(job=code_jobs)
    assert (run.trigger, run.params, run.script_version_id) == (
        Trigger.ADMIN,
        {"text": "from the form"},
        None,
    )


def test_http_and_api_triggers_record_runs_and_check_the_schema(code_jobs, api):
    assert (
        api.post("/scripts/write-note/", {"data": {"text": "x"}}, format="json").status_code == 202
    )
    bad = api.post("/api/v1/jobs/write-note/run/", {"data": {"text": 5}}, format="json")
    assert bad.status_code == 400
    assert Execution.objects.filter(job=code_jobs).count() == 1


def test_the_api_shows_kind_and_entrypoint_read_only(code_jobs, api):
    body = api.get("/api/v1/jobs/write-note/").json()
    assert (body["kind"], body["entrypoint"]) == ("code", "tests.codejobs_app.jobs:write_note")
    changed = api.patch(
        "/api/v1/jobs/write-note/", {"kind": "script", "entrypoint": "x:y"}, format="json"
    )
    assert changed.status_code == 200
    code_jobs.refresh_from_db()
    assert (code_jobs.kind, code_jobs.entrypoint) == ("code", "tests.codejobs_app.jobs:write_note")
    upload = api.patch("/api/v1/jobs/write-note/", {"script_path": "hello.py"}, format="json")
    assert upload.status_code == 400
    assert "a code job has no script" in upload.json()["script_path"][0]


def test_creating_a_code_job_over_the_api_is_refused(db, api):
    response = api.post(
        "/api/v1/jobs/",
        {"name": "Sneaky", "kind": "code", "entrypoint": "os:system"},
        format="json",
    )
    assert response.status_code == 400
    assert "syncjobs" in response.json()["kind"][0]
    assert not Job.objects.filter(name="Sneaky").exists()


def test_call_command_with_the_slug_runs_the_code_job(live_code_jobs):
    out = call_command("write-note", params={"text": "via call_command"})
    note = Note.objects.get()
    assert note.text == "via call_command"
    assert f'"note": {note.pk}' in out
    run = Execution.objects.get(job=live_code_jobs)
    assert (run.status, run.trigger) == (Status.SUCCEEDED, Trigger.CLI)


def test_a_scheduler_tick_fires_a_code_job_that_writes_a_row(live_code_jobs):
    live_code_jobs.cron = "0 0 1 1 *"  # the operator's schedule (one slot due, whatever the minute)
    live_code_jobs.save()
    Job.objects.filter(pk=live_code_jobs.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=5)
    )
    fired = firing.fire_due(timezone.now())
    assert fired.jobs == 1
    run = Execution.objects.get(job=live_code_jobs, trigger=Trigger.SCHEDULE)
    done = execution.execute(run.pk)
    assert done.status == Status.SUCCEEDED, done.error
    assert Note.objects.get().run_id == run.pk


def test_kind_code_needs_no_script_in_the_model_checks(db):
    job = Job(name="C", slug="c-1", kind=JobKind.CODE, entrypoint="tests.codejobs_app.jobs:noop")
    job.full_clean()


def test_the_job_page_and_a_rerun_work_for_a_code_job(code_jobs, api, alice):
    page = admin_client(alice).get("/scripts/write-note/")
    assert page.status_code == 200 and b"write-note" in page.content
    first = api.post("/scripts/write-note/", {"data": {"text": "a"}}, format="json").json()
    again = control.rerun(Execution.objects.get(pk=first["id"]), user=alice)
    assert (again.params, again.script_version_id) == ({"text": "a"}, None)


def test_a_code_jobs_run_page_in_the_admin_shows_its_log_and_result(live_code_jobs, alice):
    done = execution.execute(
        dispatch.trigger(
            live_code_jobs, params={"text": "shown"}, trigger=Trigger.CLI, send=False
        ).pk
    )
    page = admin_client(alice).get(reverse("admin:scripts_app_execution_change", args=[done.pk]))
    assert page.status_code == 200
    assert b"printed shown" in page.content
