"""/api/v1/jobs/: list, create (multipart), retrieve, update, delete, and run."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from rest_framework.throttling import ScopedRateThrottle

from scripts_app.jobs import versions
from scripts_app.models import Artifact, Execution, Job, ScriptVersion, Status, Trigger
from tests.conftest import client_for, script_file

SCHEMA = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["count"],
}


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def create(api, **fields):
    data = {"name": "Echo", "slug": "echo", "script": script_file("def main(d):\n    return d\n")}
    data.update(fields)
    return api.post("/api/v1/jobs/", data, format="multipart")


# --- create ------------------------------------------------------------------------------


def test_it_creates_a_job_from_a_multipart_upload_with_json_string_fields(api):
    response = create(
        api,
        params_schema=json.dumps(SCHEMA),
        default_params=json.dumps({"count": 1}),
        env=json.dumps({"REGION": "eu"}),
        cron="0 6 * * *",
        timezone="Europe/Berlin",
        timeout="60",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "echo"
    assert body["params_schema"] == SCHEMA
    assert body["default_params"] == {"count": 1}
    assert body["env"] == {"REGION": "eu"}
    assert body["script_name"] == "echo.py" or body["script_name"].endswith(".py")
    assert body["current_version"]["sha256"]
    job = Job.objects.get(slug="echo")
    assert job.timeout == 60 and job.cron == "0 6 * * *"
    assert ScriptVersion.objects.filter(job=job).count() == 1


def test_it_creates_a_job_from_json_with_a_parsers_path(api):
    response = api.post(
        "/api/v1/jobs/",
        {"name": "Hello", "slug": "hello-api", "script_path": "hello.py", "params_schema": {}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["script_name"] == "parsers/hello.py"


def test_it_rejects_a_non_python_upload(api):
    response = create(api, script=script_file("print(1)", name="notes.txt"))
    assert response.status_code == 400
    assert "not a .py file" in response.json()["script"][0]


def test_it_rejects_a_script_with_a_syntax_error(api):
    response = create(api, script=script_file("def main(:\n"))
    assert response.status_code == 400
    assert "syntax error" in response.json()["script"][0]


def test_it_rejects_an_oversized_script(api, settings):
    settings.PARSEQ_MAX_SCRIPT_BYTES = 10
    response = create(api, script=script_file("x = 'a long line of code'\n"))
    assert response.status_code == 400
    assert "limit" in response.json()["script"][0]


def test_it_rejects_a_bad_cron(api):
    response = create(api, cron="61 * * * *")
    assert response.status_code == 400
    assert "cron" in response.json()


def test_it_rejects_a_bad_timezone(api):
    response = create(api, timezone="Mars/Olympus")
    assert response.status_code == 400
    assert "timezone" in response.json()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("params_schema", "{not json", "valid JSON"),
        ("params_schema", "[1, 2]", "JSON object"),
        ("params_schema", json.dumps({"type": "nonsense"}), "Invalid JSON Schema"),
        ("env", json.dumps({"PATH": "/tmp"}), "reserved"),
        ("default_params", "42", "JSON object"),
    ],
)
def test_it_rejects_bad_json_fields(api, field, value, message):
    response = create(api, **{field: value})
    assert response.status_code == 400
    assert message in json.dumps(response.json())


def test_it_needs_a_script_or_a_path(api):
    response = api.post("/api/v1/jobs/", {"name": "X", "slug": "x"}, format="multipart")
    assert response.status_code == 400
    assert "Upload a .py script" in json.dumps(response.json())


def test_it_rejects_a_duplicate_slug(api, make_job):
    make_job(slug="echo")
    response = create(api)
    assert response.status_code == 400
    assert "slug" in response.json()


def test_it_rejects_a_slug_that_is_a_manage_py_command(api):
    response = create(api, slug="migrate")
    assert response.status_code == 400
    assert "manage.py command" in response.json()["slug"][0]


def test_it_rejects_cron_and_interval_together(api):
    response = create(api, cron="* * * * *", start_at="2026-01-01T00:00:00Z", repeat_every="60")
    assert response.status_code == 400


# --- read --------------------------------------------------------------------------------


def test_it_lists_and_retrieves_jobs_by_slug(api, make_job):
    make_job(slug="echo")
    make_job(slug="other")
    listing = api.get("/api/v1/jobs/")
    assert listing.status_code == 200
    assert [job["slug"] for job in listing.json()] == ["echo", "other"]
    detail = api.get("/api/v1/jobs/echo/")
    assert detail.status_code == 200
    assert detail.json()["url"].endswith("/api/v1/jobs/echo/")
    assert "script" not in detail.json()  # write-only; script_name says what it is


def test_an_unknown_slug_is_404(api):
    assert api.get("/api/v1/jobs/nope/").status_code == 404


# --- update ------------------------------------------------------------------------------


def test_a_new_upload_makes_a_new_version_and_old_runs_keep_theirs(api, make_job):
    job = make_job(source="def main(d):\n    return 1\n", slug="echo")
    first = versions.current_version(job)
    old_run = Execution.objects.create(
        job=job, trigger=Trigger.API, script_version=first, script_sha256=first.sha256
    )
    response = api.patch(
        "/api/v1/jobs/echo/",
        {"script": script_file("def main(d):\n    return 2\n")},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert ScriptVersion.objects.filter(job=job).count() == 2
    new_sha = response.json()["current_version"]["sha256"]
    assert new_sha != first.sha256
    old_run.refresh_from_db()
    assert old_run.script_version_id == first.pk
    with old_run.script_version.file.open("rb") as handle:
        assert b"return 1" in handle.read()


def test_re_uploading_an_earlier_script_makes_its_version_current_again(api, make_job):
    make_job(slug="echo")
    shas = []
    for body in ("return 'A'", "return 'B'", "return 'A'"):
        upload = script_file(f"def main(d):\n    {body}\n")
        response = api.patch("/api/v1/jobs/echo/", {"script": upload}, format="multipart")
        assert response.status_code == 200, response.json()
        shas.append(response.json()["current_version"]["sha256"])
    assert shas[1] != shas[0] and shas[2] == shas[0]
    listed = {job["slug"]: job for job in api.get("/api/v1/jobs/").json()}
    assert listed["echo"]["current_version"]["sha256"] == shas[0]


def test_a_patch_changes_only_the_given_fields(api, make_job):
    make_job(slug="echo", description="keep me")
    response = api.patch("/api/v1/jobs/echo/", {"enabled": False}, format="json")
    assert response.status_code == 200
    job = Job.objects.get(slug="echo")
    assert job.enabled is False and job.description == "keep me"


def test_an_update_is_validated_like_a_create(api, make_job):
    make_job(slug="echo")
    response = api.patch("/api/v1/jobs/echo/", {"cron": "nonsense"}, format="json")
    assert response.status_code == 400
    assert Job.objects.get(slug="echo").cron == ""


# --- delete ------------------------------------------------------------------------------


def test_deleting_a_job_removes_its_history_and_stored_files(
    api, make_job, django_capture_on_commit_callbacks
):
    job = make_job(slug="echo")
    version = versions.current_version(job)
    run = Execution.objects.create(
        job=job,
        trigger=Trigger.API,
        status=Status.SUCCEEDED,
        script_version=version,
        script_sha256=version.sha256,
    )
    name = default_storage.save(f"executions/{run.pk}/artifacts/a.txt", script_file("x"))
    Artifact.objects.create(execution=run, name="a.txt", file=name, size=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete("/api/v1/jobs/echo/")
    assert response.status_code == 204
    assert not Job.objects.filter(slug="echo").exists()
    assert not Execution.objects.filter(pk=run.pk).exists()
    assert not default_storage.exists(name)
    assert not default_storage.exists(version.file.name)


def test_a_job_with_an_active_run_cannot_be_deleted(api, make_job):
    job = make_job(slug="echo")
    Execution.objects.create(job=job, trigger=Trigger.API, status=Status.RUNNING)
    response = api.delete("/api/v1/jobs/echo/")
    assert response.status_code == 409
    assert "cancel them first" in response.json()["detail"]
    assert Job.objects.filter(slug="echo").exists()


# --- permissions -------------------------------------------------------------------------


def test_an_operator_may_view_but_not_change_jobs(bob, make_job):
    make_job(slug="echo")
    client = client_for(bob)
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.patch("/api/v1/jobs/echo/", {"enabled": False}, format="json").status_code == 403
    assert client.delete("/api/v1/jobs/echo/").status_code == 403
    assert create(client, slug="new").status_code == 403


def test_a_user_without_permissions_sees_no_jobs(charlie, make_job):
    make_job(slug="echo")
    assert client_for(charlie).get("/api/v1/jobs/").status_code == 403
    assert client_for(charlie).get("/api/v1/jobs/echo/").status_code == 403


def test_anonymous_requests_get_401(anon, make_job):
    make_job(slug="echo")
    assert anon.get("/api/v1/jobs/").status_code == 401
    assert anon.post("/api/v1/jobs/echo/run/", {}, format="json").status_code == 401


# --- run ---------------------------------------------------------------------------------


def test_run_queues_an_execution_with_the_params(bob, make_job):
    make_job(slug="echo")
    response = client_for(bob).post(
        "/api/v1/jobs/echo/run/", {"data": {"name": "World"}}, format="json"
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["url"].endswith(f"/api/v1/executions/{body['id']}/")
    execution = Execution.objects.get(pk=body["id"])
    assert execution.params == {"name": "World"}
    assert execution.trigger == Trigger.API
    assert execution.triggered_by == bob


def test_run_with_an_empty_body_uses_the_defaults(api, make_job):
    make_job(slug="echo", default_params={"count": 3})
    response = api.post("/api/v1/jobs/echo/run/")
    assert response.status_code == 202
    assert Execution.objects.get().params == {"count": 3}


def test_run_lists_every_params_error_with_its_path_and_queues_nothing(api, make_job):
    make_job(slug="echo", params_schema=SCHEMA)
    response = api.post(
        "/api/v1/jobs/echo/run/", {"data": {"count": "x", "name": 5}}, format="json"
    )
    assert response.status_code == 400
    paths = {error["path"] for error in response.json()["errors"]}
    assert paths == {"$.count", "$.name"}
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "body", [[1, 2], {"data": [1]}, {"data": "x"}], ids=["list", "data-list", "data-str"]
)
def test_run_rejects_a_body_that_is_not_the_contract(api, make_job, body):
    make_job(slug="echo")
    response = api.post("/api/v1/jobs/echo/run/", body, format="json")
    assert response.status_code == 400
    assert not Execution.objects.exists()


def test_run_rejects_malformed_json(api, make_job):
    make_job(slug="echo")
    response = api.post("/api/v1/jobs/echo/run/", "{oops", content_type="application/json")
    assert response.status_code == 400


def test_run_rejects_a_bad_wait_before_queueing(api, make_job):
    make_job(slug="echo")
    assert api.post("/api/v1/jobs/echo/run/?wait=soon").status_code == 400
    assert api.post("/api/v1/jobs/echo/run/?wait=9999").status_code == 400
    assert not Execution.objects.exists()


def test_run_of_an_unknown_job_is_404(api):
    assert api.post("/api/v1/jobs/nope/run/").status_code == 404


def test_run_needs_the_run_job_permission(charlie, make_job):
    make_job(slug="echo")
    response = client_for(charlie).post("/api/v1/jobs/echo/run/")
    assert response.status_code == 403
    assert "Can run jobs" in response.json()["detail"]


def test_run_is_throttled(api, make_job, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"trigger": "2/min"})
    make_job(slug="echo")
    codes = [api.post("/api/v1/jobs/echo/run/").status_code for _ in range(3)]
    assert codes == [202, 202, 429]


def test_run_refuses_input_files_that_do_not_exist(api, make_job):
    make_job(slug="echo")
    response = api.post(
        "/api/v1/jobs/echo/run/",
        {"data": {"input_files": ["uploads/missing.csv", "../etc/passwd"]}},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["path"] for e in errors] == ["$.input_files[0]", "$.input_files[1]"]
    assert "no file has the key" in errors[0]["message"]
    assert "'..'" in errors[1]["message"]


def test_run_with_wait_answers_with_the_result(api, make_job, worker):
    make_job(source="def main(d):\n    return {'twice': d['n'] * 2}\n", slug="double")
    response = api.post("/api/v1/jobs/double/run/?wait=20", {"data": {"n": 21}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["result"] == {"twice": 42}


def test_the_job_list_does_not_query_per_job(api, make_job, django_assert_max_num_queries):
    for i in range(5):
        versions.current_version(make_job(slug=f"job-{i}"))
    with django_assert_max_num_queries(3):
        assert len(api.get("/api/v1/jobs/").json()) == 5
