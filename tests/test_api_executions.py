"""/api/v1/executions/: filtered newest-first list, detail, cancel, log, artifacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from scripts_app.models import Artifact, Execution, LogChunk, Status, Trigger
from scripts_app.runs.logs import log_storage_name
from scripts_app.worker.outputs import artifact_storage_name
from tests.conftest import client_for


@pytest.fixture
def runs(make_job):
    """Six runs of two jobs, a minute apart; the newest is last in the list."""
    echo, other = make_job(slug="echo"), make_job(slug="other")
    start = timezone.now() - timedelta(hours=1)
    specs = [
        (echo, Status.SUCCEEDED, Trigger.API),
        (echo, Status.FAILED, Trigger.SCHEDULE),
        (other, Status.SUCCEEDED, Trigger.API),
        (echo, Status.FAILED, Trigger.API),
        (other, Status.QUEUED, Trigger.CLI),
        (echo, Status.RUNNING, Trigger.ADMIN),
    ]
    return [
        Execution.objects.create(
            job=job, status=status, trigger=trigger, created_at=start + timedelta(minutes=i)
        )
        for i, (job, status, trigger) in enumerate(specs)
    ]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


# --- list --------------------------------------------------------------------------------


def test_it_lists_runs_newest_first(api, runs):
    assert ids(api.get("/api/v1/executions/")) == [r.pk for r in reversed(runs)]


def test_it_filters_by_job_and_status(api, runs):
    response = api.get("/api/v1/executions/?job=echo&status=failed")
    assert ids(response) == [runs[3].pk, runs[1].pk]
    assert response.json()["results"][0]["job"] == "echo"


def test_it_filters_by_trigger(api, runs):
    assert ids(api.get("/api/v1/executions/?trigger=api")) == [runs[3].pk, runs[2].pk, runs[0].pk]


def test_it_filters_by_time_range(api, runs):
    after = (runs[1].created_at).isoformat()
    before = (runs[4].created_at).isoformat()
    response = api.get("/api/v1/executions/", {"created_after": after, "created_before": before})
    assert ids(response) == [runs[3].pk, runs[2].pk, runs[1].pk]


def test_it_pages_with_a_cursor(api, runs):
    first = api.get("/api/v1/executions/?page_size=4").json()
    assert [r["id"] for r in first["results"]] == [r.pk for r in reversed(runs)][:4]
    assert first["previous"] is None
    second = api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [runs[1].pk, runs[0].pk]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("trigger=carrier-pigeon", "trigger"),
        ("job=nope", "job"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-45", "created_before"),
    ],
)
def test_it_rejects_bad_filters_with_a_400_naming_the_filter(api, runs, query, field):
    response = api.get(f"/api/v1/executions/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_a_forged_cursor_is_a_400(api, runs):
    response = api.get("/api/v1/executions/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


def test_the_list_does_not_query_per_row(api, runs, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert api.get("/api/v1/executions/").status_code == 200


# --- detail ------------------------------------------------------------------------------


def test_it_shows_a_run(api, runs):
    response = api.get(f"/api/v1/executions/{runs[0].pk}/")
    assert response.status_code == 200
    body = response.json()
    assert {"id", "job", "status", "trigger", "params", "result", "error", "exit_code"} <= set(body)
    assert body["job"] == "echo"


def test_an_unknown_run_is_404(api, runs):
    assert api.get("/api/v1/executions/999999/").status_code == 404
    assert api.get("/api/v1/executions/abc/").status_code == 404


def test_viewing_runs_needs_the_view_permission(charlie, bob, runs):
    assert client_for(charlie).get("/api/v1/executions/").status_code == 403
    assert client_for(charlie).get(f"/api/v1/executions/{runs[0].pk}/").status_code == 403
    assert client_for(bob).get("/api/v1/executions/").status_code == 200


def test_runs_are_read_only(api, runs):
    assert api.delete(f"/api/v1/executions/{runs[0].pk}/").status_code == 405
    assert api.post("/api/v1/executions/", {}, format="json").status_code == 405


def test_anonymous_is_401(anon, runs):
    assert anon.get("/api/v1/executions/").status_code == 401
    assert anon.post(f"/api/v1/executions/{runs[0].pk}/cancel/").status_code == 401


# --- cancel ------------------------------------------------------------------------------


def test_cancel_of_a_queued_run_ends_it(bob, runs):
    response = client_for(bob).post(f"/api/v1/executions/{runs[4].pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_cancel_of_a_running_run_asks_its_worker_to_stop(api, runs):
    response = api.post(f"/api/v1/executions/{runs[5].pk}/cancel/")
    assert response.status_code == 200
    runs[5].refresh_from_db()
    assert runs[5].cancel_requested_at is not None


def test_cancel_of_an_ended_run_is_409(api, runs):
    response = api.post(f"/api/v1/executions/{runs[0].pk}/cancel/")
    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]


def test_cancel_needs_the_run_permission(charlie, runs):
    response = client_for(charlie).post(f"/api/v1/executions/{runs[4].pk}/cancel/")
    assert response.status_code == 403
    runs[4].refresh_from_db()
    assert runs[4].status == Status.QUEUED


def test_cancel_of_an_unknown_run_is_404(api, runs):
    assert api.post("/api/v1/executions/999999/cancel/").status_code == 404


# --- log ---------------------------------------------------------------------------------


def test_the_log_of_a_running_job_can_be_followed_by_offset(api, runs):
    running = runs[5]
    LogChunk.objects.create(execution=running, offset=0, data=b"line 1\n")
    first = api.get(f"/api/v1/executions/{running.pk}/log/")
    assert first.status_code == 200
    assert first["Content-Type"].startswith("text/plain")
    assert first.content == b"line 1\n"
    assert first["X-Log-Next-Offset"] == "7"
    assert first["X-Log-Complete"] == "false"
    LogChunk.objects.create(execution=running, offset=7, data=b"line 2\n")
    second = api.get(f"/api/v1/executions/{running.pk}/log/?offset=7")
    assert second.content == b"line 2\n"
    assert second["X-Log-Next-Offset"] == "14"


def test_the_log_of_an_ended_run_comes_from_storage_and_says_when_it_is_complete(api, runs):
    ended = runs[0]
    ended.log = default_storage.save(log_storage_name(ended.pk), ContentFile(b"hello\nworld\n"))
    ended.save()
    part = api.get(f"/api/v1/executions/{ended.pk}/log/?offset=6&limit=3")
    assert part.content == b"wor"
    assert part["X-Log-Next-Offset"] == "9"
    rest = api.get(f"/api/v1/executions/{ended.pk}/log/?offset=9")
    assert rest.content == b"ld\n"
    end = api.get(f"/api/v1/executions/{ended.pk}/log/?offset=12")
    assert end.content == b""
    assert end["X-Log-Complete"] == "true"


def test_the_log_answers_text_plain_accept(api, runs):
    response = api.get(f"/api/v1/executions/{runs[5].pk}/log/", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["offset=-1", "offset=abc", "limit=x"])
def test_the_log_rejects_a_bad_offset(api, runs, query):
    response = api.get(f"/api/v1/executions/{runs[0].pk}/log/?{query}")
    assert response.status_code == 400


# --- artifacts ---------------------------------------------------------------------------


@pytest.fixture
def report(runs):
    run = runs[0]
    data = b"name,count\n" + b"x,1\n" * 100
    name = default_storage.save(artifact_storage_name(run.pk, "reports/q1.csv"), ContentFile(data))
    Artifact.objects.create(
        execution=run, name="reports/q1.csv", file=name, size=len(data), content_type="text/csv"
    )
    return run, data


def test_it_lists_the_artifacts_of_a_run(api, report):
    run, data = report
    response = api.get(f"/api/v1/executions/{run.pk}/artifacts/")
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "reports/q1.csv",
            "size": len(data),
            "content_type": "text/csv",
            "created_at": response.json()[0]["created_at"],
        }
    ]


def test_it_downloads_an_artifact_whose_name_has_slashes(api, report):
    run, data = report
    response = api.get(f"/api/v1/executions/{run.pk}/artifacts/reports/q1.csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="q1.csv"'
    assert response["Content-Length"] == str(len(data))
    assert response["Accept-Ranges"] == "bytes"


def test_it_serves_a_byte_range_of_an_artifact(api, report):
    run, data = report
    response = api.get(
        f"/api/v1/executions/{run.pk}/artifacts/reports/q1.csv", HTTP_RANGE="bytes=5-14"
    )
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == data[5:15]
    assert response["Content-Range"] == f"bytes 5-14/{len(data)}"


def test_an_unsatisfiable_range_is_416(api, report):
    run, data = report
    response = api.get(
        f"/api/v1/executions/{run.pk}/artifacts/reports/q1.csv", HTTP_RANGE="bytes=9999-"
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(data)}"


def test_an_artifact_download_accepts_any_accept_header(api, report):
    run, _ = report
    response = api.get(
        f"/api/v1/executions/{run.pk}/artifacts/reports/q1.csv", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200


def test_an_unknown_artifact_is_404(api, report):
    run, _ = report
    response = api.get(f"/api/v1/executions/{run.pk}/artifacts/reports/q2.csv")
    assert response.status_code == 404
    assert "no file named" in response.json()["detail"]


def test_artifacts_need_the_view_permission(charlie, report):
    run, _ = report
    client = client_for(charlie)
    assert client.get(f"/api/v1/executions/{run.pk}/artifacts/").status_code == 403
    assert client.get(f"/api/v1/executions/{run.pk}/artifacts/reports/q1.csv").status_code == 403
