"""The executions admin: read-only history, the live log endpoint, artifacts, Cancel, Re-run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scripts_app.models import Artifact, Execution, LogChunk, Status, Trigger
from scripts_app.runs import dispatch
from scripts_app.runs.logs import complete_utf8

CHANGELIST = reverse("admin:scripts_app_execution_changelist")


def client_as(user: User) -> Client:
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def viewer(db) -> User:
    """May look at runs, not start or stop them."""
    user = User.objects.create_user("vera", "vera@example.com", "password", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_job", "view_execution"], content_type__app_label="scripts_app"
        )
    )
    return User.objects.get(pk=user.pk)


def page(execution) -> str:
    return reverse("admin:scripts_app_execution_change", args=[execution.pk])


def log_url(execution, offset=0) -> str:
    return reverse("admin:scripts_app_execution_log", args=[execution.pk]) + f"?offset={offset}"


@pytest.fixture
def job(make_job):
    return make_job(slug="a-job")


@pytest.fixture
def running(job):
    run = dispatch.trigger(job, trigger=Trigger.ADMIN, send=False)
    now = timezone.now()
    Execution.objects.filter(pk=run.pk).update(
        status=Status.RUNNING, started_at=now - timedelta(seconds=90), heartbeat_at=now
    )
    run.refresh_from_db()
    return run


@pytest.fixture
def finished(job):
    run = dispatch.trigger(job, params={"x": 1}, trigger=Trigger.API, send=False)
    log = default_storage.save(f"executions/{run.pk}/log.txt", ContentFile(b"line one\nline two\n"))
    stored = default_storage.save(
        f"executions/{run.pk}/artifacts/out.csv", ContentFile(b"a,b\n1,2\n")
    )
    Artifact.objects.create(
        execution=run, name="out.csv", file=stored, size=8, content_type="text/csv"
    )
    now = timezone.now()
    Execution.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        started_at=now - timedelta(seconds=2),
        finished_at=now,
        log=log,
        log_size=18,
        exit_code=0,
        result={"total": 3, "names": ["a"]},
    )
    run.refresh_from_db()
    return run


@pytest.mark.django_db
class TestPermissions:
    def test_a_user_without_view_permission_sees_no_runs_logs_or_artifacts(self, charlie, finished):
        client = client_as(charlie)
        artifact = reverse("admin:scripts_app_execution_artifact", args=[finished.pk, "out.csv"])
        assert client.get(CHANGELIST).status_code == 403
        assert client.get(page(finished)).status_code == 403
        assert client.get(log_url(finished)).status_code == 403
        assert client.get(artifact).status_code == 403
        assert client.get(reverse("admin:scripts_app_dashboard")).status_code == 403

    def test_a_viewer_cannot_cancel_or_rerun(self, db, running, finished):
        client = client_as(viewer(db))
        cancel = reverse("admin:scripts_app_execution_cancel", args=[running.pk])
        rerun = reverse("admin:scripts_app_execution_rerun", args=[finished.pk])
        assert client.post(cancel).status_code == 403
        assert client.post(rerun).status_code == 403
        running.refresh_from_db()
        assert running.cancel_requested_at is None
        assert Execution.objects.count() == 2
        html = client.get(page(running)).content.decode()
        assert 'id="parseq-cancel"' not in html and 'id="parseq-rerun"' not in html

    def test_history_cannot_be_added_changed_or_deleted(self, alice, finished):
        client = client_as(alice)
        assert client.get(reverse("admin:scripts_app_execution_add")).status_code == 403
        response = client.post(page(finished), {"status": "failed", "error": "forged"})
        assert response.status_code == 403
        delete = reverse("admin:scripts_app_execution_delete", args=[finished.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        finished.refresh_from_db()
        assert finished.status == Status.SUCCEEDED

    def test_controls_refuse_get(self, bob, running):
        cancel = reverse("admin:scripts_app_execution_cancel", args=[running.pk])
        assert client_as(bob).get(cancel).status_code == 405


@pytest.mark.django_db
class TestList:
    def test_it_filters_by_job_status_and_trigger(self, alice, make_job, finished, running):
        other = make_job(slug="other-job")
        dispatch.trigger(other, trigger=Trigger.CLI, send=False)
        client = client_as(alice)

        def shown(query: str) -> set[int]:
            response = client.get(CHANGELIST + query)
            return {run.pk for run in response.context["cl"].result_list}

        assert shown(f"?job__id__exact={other.pk}") == {Execution.objects.get(job=other).pk}
        assert shown("?status__exact=succeeded") == {finished.pk}
        assert shown("?trigger__exact=api") == {finished.pk}
        assert shown("?status__exact=running&trigger__exact=admin") == {running.pk}

    def test_it_shows_coloured_badges_durations_and_relative_times(self, alice, finished):
        html = client_as(alice).get(CHANGELIST).content.decode()
        assert 'class="parseq-badge parseq-badge-succeeded"' in html
        assert "2.0 s" in html
        assert "just now" in html

    def test_its_query_count_does_not_grow_with_the_number_of_runs(self, alice, job):
        client = client_as(alice)
        for _ in range(3):
            dispatch.trigger(job, trigger=Trigger.ADMIN, user=alice, send=False)
        client.get(CHANGELIST)
        with CaptureQueriesContext(connection) as few:
            client.get(CHANGELIST)
        for _ in range(20):
            dispatch.trigger(job, trigger=Trigger.ADMIN, user=alice, send=False)
        with CaptureQueriesContext(connection) as many:
            client.get(CHANGELIST)
        assert len(many) == len(few)


@pytest.mark.django_db
class TestExecutionPage:
    def test_it_shows_result_log_and_artifacts_with_sizes(self, bob, finished):
        html = client_as(bob).get(page(finished)).content.decode()
        assert "line one\nline two" in html
        assert "&quot;total&quot;: 3" in html and '<pre class="parseq-json">' in html
        download = reverse("admin:scripts_app_execution_artifact", args=[finished.pk, "out.csv"])
        assert download in html and "8 B" in html
        assert 'data-final="true"' in html

    def test_a_running_page_follows_the_log_and_offers_cancel(self, bob, running):
        LogChunk.objects.create(execution=running, offset=0, data=b"starting\n")
        html = client_as(bob).get(page(running)).content.decode()
        assert 'data-final="false"' in html and 'data-offset="9"' in html
        assert "scripts_app/execution.js" in html
        assert 'id="parseq-cancel"' in html and 'id="parseq-rerun"' in html


@pytest.mark.django_db
class TestLogEndpoint:
    def test_it_returns_only_the_bytes_after_the_offset_while_running(self, bob, running):
        client = client_as(bob)
        LogChunk.objects.create(execution=running, offset=0, data=b"one\n")
        first = client.get(log_url(running)).json()
        assert first["log"] == "one\n" and first["next_offset"] == 4
        assert first["final"] is False and first["status"] == "running"
        assert "parseq-badge-running" in first["html"]["status"]
        LogChunk.objects.create(execution=running, offset=4, data=b"two\n")
        second = client.get(log_url(running, first["next_offset"])).json()
        assert second["log"] == "two\n" and second["next_offset"] == 8
        third = client.get(log_url(running, second["next_offset"])).json()
        assert third["log"] == "" and third["next_offset"] == 8

    def test_it_reads_the_stored_log_of_a_finished_run_and_sends_the_outcome(self, bob, finished):
        data = client_as(bob).get(log_url(finished, 5)).json()
        assert data["log"] == "one\nline two\n"
        assert data["final"] is True
        assert "out.csv" in data["html"]["artifacts"]
        assert "&quot;total&quot;: 3" in data["html"]["result"]

    def test_it_refuses_a_bad_offset(self, bob, finished):
        response = client_as(bob).get(
            reverse("admin:scripts_app_execution_log", args=[finished.pk]) + "?offset=x"
        )
        assert response.status_code == 400

    def test_a_character_cut_in_half_waits_for_its_other_bytes(self):
        data = "é".encode() + "€".encode()[:2]
        assert complete_utf8(data, final=False) == ("é", 2)
        assert complete_utf8("ok€".encode(), final=False) == ("ok€", 5)
        assert complete_utf8(data, final=True)[1] == 4


@pytest.mark.django_db
class TestArtifactDownload:
    def test_it_streams_the_file_as_an_attachment(self, bob, finished):
        url = reverse("admin:scripts_app_execution_artifact", args=[finished.pk, "out.csv"])
        response = client_as(bob).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"a,b\n1,2\n"
        assert "attachment" in response["Content-Disposition"]
        assert response["Content-Type"] == "text/csv"

    def test_an_unknown_artifact_or_a_path_outside_is_404(self, bob, finished):
        client = client_as(bob)
        for name in ["missing.csv", "../log.txt"]:
            url = reverse("admin:scripts_app_execution_artifact", args=[finished.pk, name])
            assert client.get(url).status_code == 404


@pytest.mark.django_db
class TestControls:
    def test_cancel_stops_a_queued_run(self, bob, job):
        run = dispatch.trigger(job, trigger=Trigger.ADMIN, send=False)
        url = reverse("admin:scripts_app_execution_cancel", args=[run.pk])
        response = client_as(bob).post(url)
        assert response.status_code == 302 and response["Location"] == page(run)
        run.refresh_from_db()
        assert run.status == Status.CANCELLED

    def test_cancel_asks_a_running_run_to_stop(self, bob, running):
        client_as(bob).post(reverse("admin:scripts_app_execution_cancel", args=[running.pk]))
        running.refresh_from_db()
        assert running.status == Status.RUNNING and running.cancel_requested_at is not None

    def test_cancel_of_a_finished_run_is_a_warning_not_an_error(self, bob, finished):
        url = reverse("admin:scripts_app_execution_cancel", args=[finished.pk])
        response = client_as(bob).post(url, follow=True)
        assert response.status_code == 200
        assert "already ended" in response.content.decode()

    def test_rerun_starts_a_new_run_with_the_same_params(self, bob, finished):
        response = client_as(bob).post(
            reverse("admin:scripts_app_execution_rerun", args=[finished.pk])
        )
        new = Execution.objects.exclude(pk=finished.pk).get()
        assert response["Location"] == page(new)
        assert new.params == finished.params == {"x": 1}
        assert new.triggered_by == bob and new.trigger == Trigger.ADMIN
        assert new.status == Status.QUEUED


def test_the_result_json_is_pretty_printed_and_escaped():
    from scripts_app.admin.display import pretty_json

    html = pretty_json({"x": "<script>", "n": [1]})
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert '"n": [\n    1\n  ]' in html.replace("&quot;", '"')
