"""GET /metrics after real runs, parsed with prometheus_client's own parser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from scripts_app.jobs import removal
from scripts_app.models import Execution, NotifyOn, Status, Trigger
from scripts_app.models_operations import MetricsState, RunTotal
from scripts_app.observability import tallies
from scripts_app.runs import dispatch, notify
from scripts_app.scheduling import retention
from scripts_app.worker import execution

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.PARSEQ_METRICS = True
    settings.PARSEQ_METRICS_TOKEN = TOKEN
    return settings


def scrape(client) -> dict[str, dict]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def run(job, **params) -> Execution:
    return execution.execute(
        dispatch.trigger(job, params=params, trigger=Trigger.CLI, send=False).pk
    )


SCRIPT = "import time\ndef main(data):\n    time.sleep(data.get('sleep', 0))\n    assert data.get('ok', True)\n"


def test_finished_runs_and_their_durations_are_counted_by_job_and_status(
    metrics_on, client, make_job
):
    job = make_job(SCRIPT, slug="counted")
    assert run(job, sleep=0.3).status == Status.SUCCEEDED
    assert run(job).status == Status.SUCCEEDED
    assert run(job, ok=False).status == Status.FAILED

    samples = scrape(client)

    finished = "parseq_runs_finished_total"
    assert value(samples, finished, job="counted", status="succeeded") == 2
    assert value(samples, finished, job="counted", status="failed") == 1
    assert value(samples, "parseq_run_duration_seconds_count", job="counted") == 3
    assert value(samples, "parseq_run_duration_seconds_sum", job="counted") >= 0.3
    buckets = {
        dict(key)["le"]: count
        for key, count in samples["parseq_run_duration_seconds_bucket"].items()
        if dict(key)["job"] == "counted"
    }
    assert buckets["+Inf"] == 3 and buckets["0.25"] <= 2 and buckets["3600.0"] == 3
    ordered = [buckets[le] for le in sorted(buckets, key=lambda le: float(le))]
    assert ordered == sorted(ordered)  # cumulative


def test_queue_gauges_count_waiting_and_running_runs_and_the_oldest_age(
    metrics_on, client, make_job
):
    job = make_job(slug="waiting", queue="heavy")
    old = dispatch.trigger(job, trigger=Trigger.API, send=False)
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    dispatch.trigger(job, trigger=Trigger.API, send=False)
    busy = dispatch.trigger(job, trigger=Trigger.API, send=False)
    Execution.objects.filter(pk=busy.pk).update(status=Status.RUNNING)

    samples = scrape(client)

    assert value(samples, "parseq_runs_queued", queue="heavy") == 2
    assert value(samples, "parseq_runs_running", queue="heavy") == 1
    assert value(samples, "parseq_runs_queued", queue="default") == 0  # a known, empty queue
    age = value(samples, "parseq_oldest_queued_run_age_seconds", queue="heavy")
    assert 300 <= age < 400


def test_fire_lag_is_read_from_the_scheduled_runs(metrics_on, client, make_job):
    job = make_job(slug="scheduled")
    slot = timezone.now() - timedelta(minutes=1)
    fired = dispatch.trigger(job, trigger=Trigger.SCHEDULE, scheduled_for=slot, send=False)
    Execution.objects.filter(pk=fired.pk).update(created_at=slot + timedelta(seconds=2))
    Execution.objects.create(
        job=job,
        trigger=Trigger.SCHEDULE,
        status=Status.SKIPPED,
        scheduled_for=slot - timedelta(hours=1),
    )  # a missed slot fired nothing: no lag

    samples = scrape(client)

    assert value(samples, "parseq_scheduler_fire_lag_seconds_count") == 1
    assert value(samples, "parseq_scheduler_fire_lag_seconds_sum") == pytest.approx(2.0)
    assert value(samples, "parseq_scheduler_fire_lag_seconds_bucket", le="1.0") == 0
    assert value(samples, "parseq_scheduler_fire_lag_seconds_bucket", le="2.5") == 1


def test_each_run_email_that_fails_is_counted(metrics_on, client, make_job, smtp_server):
    metrics_on.ADMINS = [("Ops", "ops@example.com")]
    smtp_server.stop()  # the mail server is down: the run's mail fails, twice
    failed = run(make_job(SCRIPT, slug="mailed", notify_on=NotifyOn.FAILURE), ok=False)
    notify.notify(Execution.objects.select_related("job").get(pk=failed.pk))
    assert value(scrape(client), "parseq_email_failures_total") == 2
    smtp_server.start()
    assert notify.notify(Execution.objects.select_related("job").get(pk=failed.pk))
    assert value(scrape(client), "parseq_email_failures_total") == 2


def test_settled_runs_are_folded_into_totals_and_counted_once(metrics_on, client, make_job):
    job = make_job(SCRIPT, slug="settled")
    old = run(job)
    hours_ago = timezone.now() - timedelta(hours=2)
    Execution.objects.filter(pk=old.pk).update(
        created_at=hours_ago, started_at=hours_ago, finished_at=hours_ago + timedelta(seconds=3)
    )
    first = scrape(client)  # folds the settled run into RunTotal
    assert RunTotal.objects.get(job="settled", status="succeeded").runs == 1
    assert MetricsState.objects.get().folded_before < timezone.now() - tallies.settle()
    run(job)  # a live one, after the mark
    second = scrape(client)

    finished = "parseq_runs_finished_total"
    assert value(first, finished, job="settled", status="succeeded") == 1
    assert value(second, finished, job="settled", status="succeeded") == 2
    assert value(second, "parseq_run_duration_seconds_sum", job="settled") >= 3


def test_counters_never_go_down_when_runs_are_purged_or_their_job_deleted(
    metrics_on, client, make_job
):
    job = make_job(SCRIPT, slug="purged")
    for ok in (True, True, False, True):
        run(job, ok=ok)
    settled = Execution.objects.filter(job=job, status=Status.SUCCEEDED).order_by("pk")[:1]
    long_ago = timezone.now() - timedelta(days=40)
    Execution.objects.filter(pk__in=list(settled.values_list("pk", flat=True))).update(
        created_at=long_ago, started_at=long_ago, finished_at=long_ago
    )
    before = scrape(client)  # one run folded into the totals, three live

    Execution.objects.filter(job=job, status=Status.SUCCEEDED).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    assert retention.purge_older_than(timedelta(days=30)) == 3  # the folded one and two live
    after_purge = scrape(client)
    removal.delete_job(job)
    after_delete = scrape(client)

    for name in (
        "parseq_runs_finished_total",
        "parseq_run_duration_seconds_count",
        "parseq_run_duration_seconds_sum",
        "parseq_run_duration_seconds_bucket",
    ):
        assert after_purge[name] == before[name], name
        assert after_delete[name] == before[name], name
    assert value(after_delete, "parseq_runs_finished_total", job="purged", status="succeeded") == 3
    assert value(after_delete, "parseq_runs_finished_total", job="purged", status="failed") == 1


def test_metrics_are_off_unless_enabled(settings, client):
    settings.PARSEQ_METRICS = False
    assert client.get("/metrics").status_code == 404


def test_a_bearer_token_or_an_allowed_address_may_scrape(metrics_on, client, db):
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.9").status_code == 401
    wrong = client.get("/metrics", REMOTE_ADDR="192.0.2.9", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    right = client.get("/metrics", REMOTE_ADDR="192.0.2.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert right.status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # the default list


def test_without_a_token_only_the_allow_list_may_scrape(settings, client, db):
    import ipaddress

    settings.PARSEQ_METRICS, settings.PARSEQ_METRICS_TOKEN = True, ""
    settings.PARSEQ_METRICS_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_answer_on_any_host_header(metrics_on, client, db):
    scraped = client.get(
        "/metrics", HTTP_HOST="10.42.0.7:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert scraped.status_code == 200
