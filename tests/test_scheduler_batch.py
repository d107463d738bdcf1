"""A claimed batch is written in a few statements, however many jobs it holds."""

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from scripts_app.jobs import versions
from scripts_app.models import Job, Status
from scripts_app.scheduling import firing

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_due(make_job, count: int, cron: str = "*/5 * * * *") -> list[Job]:
    jobs = [make_job(slug=f"job-{i}", cron=cron, timezone="UTC") for i in range(count)]
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(
        next_run_at=T0, overlap_policy="allow"
    )
    for job in jobs:
        versions.current_version(job)  # steady state: each has run before
    return jobs


def test_a_batch_of_jobs_that_ran_before_takes_the_same_few_queries_at_any_size(make_job):
    def queries_for(jobs: list[Job], at: datetime) -> int:
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(next_run_at=at)
        with CaptureQueriesContext(connection) as queries:
            fired = firing.fire_due_batch(at + timedelta(seconds=1), limit=100)
        assert fired.runs == len(jobs)
        return len(queries)

    few = make_due(make_job, 2)
    many = [make_job(slug=f"more-{i}", cron="*/5 * * * *", timezone="UTC") for i in range(8)]
    for job in many:
        versions.current_version(job)
    Job.objects.filter(pk__in=[job.pk for job in many]).update(overlap_policy="allow")
    Job.objects.filter(pk__in=[job.pk for job in many]).update(next_run_at=T0.replace(year=2030))
    assert queries_for(few, T0) == queries_for(few + many, T0 + timedelta(minutes=5))


def test_jobs_with_different_next_times_are_each_advanced_to_their_own(make_job):
    shared = make_due(make_job, 3)
    hourly = make_job(slug="hourly", cron="0 * * * *", timezone="UTC")
    daily = make_job(slug="daily", cron="30 6 * * *", timezone="UTC")
    Job.objects.filter(pk__in=[hourly.pk, daily.pk]).update(next_run_at=T0)
    fired = firing.fire_due(T0 + timedelta(seconds=1))
    assert fired.jobs == 5
    next_runs = dict(Job.objects.values_list("slug", "next_run_at"))
    assert {next_runs[job.slug] for job in shared} == {T0 + timedelta(minutes=5)}
    assert next_runs["hourly"] == T0 + timedelta(hours=1)
    assert next_runs["daily"] == datetime(2026, 1, 5, 6, 30, tzinfo=UTC) + timedelta(days=1)
    assert Job.objects.get(slug="hourly").executions.get().status == Status.QUEUED
