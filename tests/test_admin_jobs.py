"""The jobs admin: list columns, actions, the job page, secrets, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scripts_app.jobs import secrets
from scripts_app.models import Execution, JobSecret, ScriptVersion, Status, Trigger
from tests.conftest import script_file

CHANGELIST = reverse("admin:scripts_app_job_changelist")


def client_as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def record_run(job, status=Status.SUCCEEDED, minutes_ago=5, **fields) -> Execution:
    created = timezone.now() - timedelta(minutes=minutes_ago)
    return Execution.objects.create(
        job=job,
        status=status,
        trigger=Trigger.ADMIN,
        created_at=created,
        started_at=created,
        finished_at=created + timedelta(seconds=3) if status not in ("queued", "running") else None,
        **fields,
    )


def editor(db) -> User:
    user = User.objects.create_user("erin", "erin@example.com", "password", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_job", "change_job", "view_execution"],
            content_type__app_label="scripts_app",
        )
    )
    return User.objects.get(pk=user.pk)


def post_change(client, job, **extra):
    """Submit the job's change form as it is, plus ``extra``."""
    url = reverse("admin:scripts_app_job_change", args=[job.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or name in ("script", "remove_secrets"):
            continue
        data[name] = value
    data.update(
        {
            "executions-TOTAL_FORMS": 0,
            "executions-INITIAL_FORMS": 0,
            "executions-MIN_NUM_FORMS": 0,
            "executions-MAX_NUM_FORMS": 0,
        }
    )
    data.update(extra)
    return client.post(url, data)


@pytest.fixture(autouse=True)
def _staff(bob, charlie):
    User.objects.filter(username__in=["bob", "charlie"]).update(is_staff=True)


@pytest.mark.django_db
class TestJobList:
    def test_it_shows_schedule_last_status_and_success_rate(self, alice, make_job):
        job = make_job(slug="nightly", cron="30 2 * * *", timezone="Europe/Berlin")
        record_run(job, Status.SUCCEEDED, minutes_ago=30)
        record_run(job, Status.SUCCEEDED, minutes_ago=20)
        record_run(job, Status.SUCCEEDED, minutes_ago=15)
        record_run(job, Status.FAILED, minutes_ago=10)
        response = client_as(alice).get(CHANGELIST)
        html = response.content.decode()
        assert response.status_code == 200
        assert "02:30" in html and "Europe/Berlin" in html
        assert 'parseq-badge-failed" data-status="failed"' in html
        assert "10\xa0minutes ago" in html or "10 minutes ago" in html
        assert ">75%<" in html

    def test_it_marks_a_job_without_runs_or_schedule_with_dashes(self, alice, make_job):
        make_job(slug="adhoc")
        html = client_as(alice).get(CHANGELIST).content.decode()
        assert 'class="field-success_rate">—<' in html
        assert 'class="field-schedule">—<' in html

    def test_its_query_count_does_not_grow_with_the_number_of_jobs(self, alice, make_job):
        client = client_as(alice)
        record_run(make_job(slug="one", cron="* * * * *"))
        with CaptureQueriesContext(connection) as few:
            client.get(CHANGELIST)
        for i in range(6):
            job = make_job(slug=f"job-{i}", cron="0 * * * *")
            record_run(job)
            record_run(job, Status.FAILED)
        with CaptureQueriesContext(connection) as many:
            response = client.get(CHANGELIST)
        assert response.status_code == 200
        assert len(many) == len(few)


@pytest.mark.django_db
class TestJobActions:
    def post_action(self, client, action, jobs):
        return client.post(
            CHANGELIST,
            {"action": action, "_selected_action": [j.pk for j in jobs], "index": 0},
            follow=True,
        )

    def test_run_now_queues_one_run_per_selected_job(self, bob, make_job):
        a, b = make_job(slug="a-job"), make_job(slug="b-job")
        response = self.post_action(client_as(bob), "run_now", [a, b])
        assert response.status_code == 200
        runs = Execution.objects.filter(trigger=Trigger.ADMIN, triggered_by=bob)
        assert sorted(runs.values_list("job__slug", flat=True)) == ["a-job", "b-job"]
        assert "Started" in response.content.decode()

    def test_run_now_reports_a_job_whose_defaults_break_its_schema(self, alice, make_job):
        schema = {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string"}},
        }
        bad = make_job(slug="needs-city", params_schema=schema)
        good = make_job(slug="free")
        response = self.post_action(client_as(alice), "run_now", [bad, good])
        html = response.content.decode()
        assert "not started" in html and "city" in html
        assert list(Execution.objects.values_list("job__slug", flat=True)) == ["free"]

    def test_run_now_is_not_offered_without_the_run_permission(self, make_job, db):
        job = make_job(slug="a-job")
        response = self.post_action(client_as(editor(db)), "run_now", [job])
        assert "No action selected" in response.content.decode()
        assert not Execution.objects.exists()

    def test_disable_and_enable_switch_automatic_runs(self, db, make_job):
        job = make_job(slug="a-job", cron="0 * * * *")
        client = client_as(editor(db))
        self.post_action(client, "disable_jobs", [job])
        job.refresh_from_db()
        assert job.enabled is False and job.next_run_at is None
        self.post_action(client, "enable_jobs", [job])
        job.refresh_from_db()
        assert job.enabled is True and job.next_run_at is not None

    def test_an_operator_without_change_permission_cannot_disable(self, bob, make_job):
        job = make_job(slug="a-job")
        self.post_action(client_as(bob), "disable_jobs", [job])
        job.refresh_from_db()
        assert job.enabled is True


@pytest.mark.django_db
class TestJobPage:
    def test_it_lists_recent_runs_read_only_with_links(self, bob, make_job):
        job = make_job(slug="a-job")
        runs = [record_run(job, minutes_ago=m) for m in range(25, 0, -1)]
        html = client_as(bob).get(reverse("admin:scripts_app_job_change", args=[job.pk])).content
        html = html.decode()
        newest, oldest = runs[-1], runs[0]
        assert reverse("admin:scripts_app_execution_change", args=[newest.pk]) in html
        assert reverse("admin:scripts_app_execution_change", args=[oldest.pk]) not in html
        assert "Recent runs" in html
        assert 'name="executions-0-status"' not in html  # read-only: no inputs
        assert 'name="executions-0-DELETE"' not in html

    def test_it_shows_the_run_now_button_only_to_runners(self, bob, make_job, db):
        job = make_job(slug="a-job")
        url = reverse("admin:scripts_app_job_change", args=[job.pk])
        run_url = reverse("admin:scripts_app_job_run", args=[job.pk])
        assert run_url in client_as(bob).get(url).content.decode()
        assert run_url not in client_as(editor(db)).get(url).content.decode()

    def test_it_describes_the_schedule_and_lists_the_next_five_fire_times(self, alice, make_job):
        job = make_job(slug="nightly", cron="30 2 * * *", timezone="Europe/Berlin")
        html = client_as(alice).get(reverse("admin:scripts_app_job_change", args=[job.pk]))
        html = html.content.decode()
        assert "Schedule in words" in html
        fire_list = html.split('class="parseq-fire-times"')[1].split("</ol>")[0]
        assert fire_list.count("<li>") == 5
        assert "02:30" in fire_list

    def test_it_flags_fire_times_in_a_dst_gap(self, alice, make_job):
        # 02:30 does not exist in Berlin on the last Sunday of March.
        job = make_job(slug="gap", cron="30 2 * 3 0", timezone="Europe/Berlin")
        html = client_as(alice).get(reverse("admin:scripts_app_job_change", args=[job.pk]))
        assert 'class="parseq-dst"' in html.content.decode()

    def test_saving_a_new_upload_records_a_script_version(self, alice, make_job):
        job = make_job(slug="a-job")
        upload = script_file("def main(data):\n    return {'v': 2}\n", "v2.py")
        response = post_change(client_as(alice), job, script=upload)
        assert response.status_code == 302
        assert ScriptVersion.objects.filter(job=job, source__endswith="v2.py").exists()


@pytest.mark.django_db
class TestSecrets:
    def test_a_secret_is_stored_and_never_shown_again(self, alice, make_job):
        job = make_job(slug="a-job")
        client = client_as(alice)
        response = post_change(client, job, secret_name="DB_PASSWORD", secret_value="hunter2-xyz")
        assert response.status_code == 302
        assert secrets.secret_names(job) == ["DB_PASSWORD"]
        page = client.get(reverse("admin:scripts_app_job_change", args=[job.pk])).content.decode()
        assert "DB_PASSWORD" in page
        assert "hunter2-xyz" not in page
        assert "hunter2-xyz" not in JobSecret.objects.get().ciphertext

    def test_a_secret_value_is_not_echoed_back_after_a_form_error(self, alice, make_job):
        job = make_job(slug="a-job")
        response = post_change(
            client_as(alice), job, secret_name="PATH", secret_value="hunter2-xyz"
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "reserved" in html
        assert "hunter2-xyz" not in html
        assert not JobSecret.objects.exists()

    def test_a_secret_can_be_removed(self, alice, make_job):
        job = make_job(slug="a-job")
        secrets.set_secret(job, "TOKEN", "abc")
        response = post_change(client_as(alice), job, remove_secrets=["TOKEN"])
        assert response.status_code == 302
        assert secrets.secret_names(job) == []

    def test_a_viewer_sees_secret_names_but_no_secret_inputs(self, bob, make_job):
        job = make_job(slug="a-job")
        secrets.set_secret(job, "TOKEN", "abc")
        html = client_as(bob).get(reverse("admin:scripts_app_job_change", args=[job.pk]))
        html = html.content.decode()
        assert "TOKEN" in html
        assert 'name="secret_value"' not in html


@pytest.mark.django_db
def test_a_user_without_permissions_cannot_see_jobs(charlie, make_job):
    job = make_job(slug="a-job")
    client = client_as(charlie)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:scripts_app_job_change", args=[job.pk])).status_code == 403
