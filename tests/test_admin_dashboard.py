"""The dashboard: running now, queued, failures in the last 24 h, runs per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scripts_app.admin.dashboard import overview, runs_per_hour
from scripts_app.models import Execution, Status, Trigger

URL = reverse("admin:scripts_app_dashboard")


def run(job, status, created, finished=None, **fields) -> Execution:
    return Execution.objects.create(
        job=job,
        status=status,
        trigger=Trigger.SCHEDULE,
        created_at=created,
        started_at=created if status != Status.QUEUED else None,
        finished_at=finished,
        **fields,
    )


@pytest.mark.django_db
def test_a_user_without_view_permission_gets_403(charlie):
    User.objects.filter(pk=charlie.pk).update(is_staff=True)
    client = Client()
    client.force_login(charlie)
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_an_anonymous_visitor_is_sent_to_log_in():
    response = Client().get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_it_counts_running_queued_and_recent_failures(make_job):
    job = make_job(slug="a-job")
    now = timezone.now()
    running = run(job, Status.RUNNING, now - timedelta(minutes=2))
    queued = run(job, Status.QUEUED, now - timedelta(minutes=1))
    fresh_failure = run(
        job, Status.FAILED, now - timedelta(hours=2), now - timedelta(hours=2), error="boom"
    )
    timeout = run(job, Status.TIMED_OUT, now - timedelta(hours=3), now - timedelta(hours=3))
    run(job, Status.FAILED, now - timedelta(hours=30), now - timedelta(hours=30))  # too old
    run(job, Status.SUCCEEDED, now - timedelta(hours=1), now - timedelta(hours=1))
    data = overview(now)
    assert data["running"] == [running] and data["running_count"] == 1
    assert data["queued"] == [queued] and data["queued_count"] == 1
    assert data["failures"] == [fresh_failure, timeout] and data["failures_count"] == 2


@pytest.mark.django_db
def test_runs_per_hour_has_24_bars_with_zeros_and_status_split(make_job):
    job = make_job(slug="a-job")
    now = datetime(2026, 3, 29, 12, 20, tzinfo=UTC)
    for minute in (1, 5, 9):
        run(job, Status.SUCCEEDED, now.replace(hour=10, minute=minute), now)
    run(job, Status.FAILED, now.replace(hour=10, minute=30), now)
    run(job, Status.SUCCEEDED, now.replace(minute=5), now)
    run(job, Status.SUCCEEDED, now - timedelta(hours=25), now)  # outside the window
    bars = runs_per_hour(now)
    assert len(bars) == 24
    assert bars[-1].hour == now.replace(minute=0) and bars[0].hour == now.replace(
        minute=0
    ) - timedelta(hours=23)
    ten = next(b for b in bars if b.hour.hour == 10)
    assert (ten.total, ten.succeeded, ten.failed, ten.height) == (4, 3, 1, 100)
    assert bars[-1].total == 1 and bars[-1].height == 25
    assert sum(b.total for b in bars) == 5


@pytest.mark.django_db
def test_the_page_lists_runs_with_links_and_a_chart(bob, make_job):
    job = make_job(slug="a-job")
    now = timezone.now()
    running = run(job, Status.RUNNING, now - timedelta(minutes=2))
    failure = run(job, Status.FAILED, now - timedelta(hours=1), now, error="it broke")
    User.objects.filter(pk=bob.pk).update(is_staff=True)
    client = Client()
    client.force_login(bob)
    html = client.get(URL).content.decode()
    assert reverse("admin:scripts_app_execution_change", args=[running.pk]) in html
    assert reverse("admin:scripts_app_execution_change", args=[failure.pk]) in html
    assert "it broke" in html
    assert html.count('class="parseq-bar"') == 24
    assert "Nothing is waiting." in html
