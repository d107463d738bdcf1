"""Retention: `manage.py purgeruns --older-than 30d` deletes old finished runs with
their logs and artifacts in storage, in batches; the scheduler step does it daily."""

import os
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from scripts_app.models import Artifact, Execution, LogChunk, Status, Trigger
from scripts_app.runs import dispatch
from scripts_app.scheduling import retention
from scripts_app.worker import execution

OUTPUTS = """
from scripts_app import runtime
def main(data):
    print("log line")
    runtime.write_output("hello")
    return 1
"""


def finished_run(job, days_old: float) -> Execution:
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    Execution.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=days_old))
    return Execution.objects.get(pk=run.pk)


def purge(*args) -> str:
    out = StringIO()
    call_command("purgeruns", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("age", ["", "30", "d", "-3d", "0d", "3y", "1.5h"])
def test_it_refuses_an_unreadable_age(db, age):
    with pytest.raises(CommandError, match="--older-than"):
        purge("--older-than", age)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_it_reads_ages(text, delta):
    assert retention.parse_age(text) == delta


def test_it_keeps_recent_queued_and_running_runs(make_job):
    job = make_job(OUTPUTS)
    recent = finished_run(job, days_old=1)
    old_queued = dispatch.trigger(job, trigger=Trigger.API, send=False)
    old_running = dispatch.trigger(job, trigger=Trigger.API, send=False)
    Execution.objects.filter(pk=old_running.pk).update(status=Status.RUNNING)
    Execution.objects.filter(pk__in=[old_queued.pk, old_running.pk]).update(
        created_at=timezone.now() - timedelta(days=90)
    )
    assert "deleted 0 runs" in purge("--older-than", "30d")
    assert Execution.objects.count() == 3
    assert default_storage.exists(recent.log.name)


def test_it_deletes_old_runs_with_their_log_and_artifacts(make_job, settings):
    job = make_job(OUTPUTS)
    old = [finished_run(job, days_old=40) for _ in range(3)]
    kept = finished_run(job, days_old=2)
    names = [r.log.name for r in old] + [a.file.name for r in old for a in r.artifacts.all()]
    assert len(names) == 6 and all(default_storage.exists(n) for n in names)
    LogChunk.objects.create(execution=old[0], offset=0, data=b"x")

    assert "deleted 3 runs" in purge("--older-than", "30d", "--batch-size", "2")
    assert list(Execution.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not any(default_storage.exists(n) for n in names)
    assert not Artifact.objects.filter(execution__in=[r.pk for r in old]).exists()
    assert not LogChunk.objects.exists()
    media = settings.MEDIA_ROOT
    assert not os.path.exists(os.path.join(media, "executions", str(old[0].pk)))
    assert default_storage.exists(kept.log.name)


def test_a_dry_run_only_counts(make_job):
    finished_run(make_job(OUTPUTS), days_old=40)
    assert "1 runs older than 30d would be deleted" in purge("--older-than", "30d", "--dry-run")
    assert Execution.objects.count() == 1


def test_delete_executions_keeps_later_attempts_of_a_deleted_first(make_job):
    job = make_job(OUTPUTS)
    first = finished_run(job, days_old=40)
    retry = finished_run(job, days_old=1)
    Execution.objects.filter(pk=retry.pk).update(retry_of=first, attempt=2)
    assert retention.delete_executions(Execution.objects.filter(pk=first.pk)) == 1
    retry.refresh_from_db()
    assert retry.retry_of_id is None


def test_the_scheduler_step_purges_once_a_day_when_set(make_job, settings, monkeypatch):
    job = make_job(OUTPUTS)
    monkeypatch.setattr(retention, "_last_purge", None)
    settings.PARSEQ_RETENTION_DAYS = 0
    finished_run(job, days_old=40)
    assert retention.purge_step() == 0  # retention off: keep everything
    settings.PARSEQ_RETENTION_DAYS = 30
    assert retention.purge_step() == 1
    finished_run(job, days_old=40)
    assert retention.purge_step() == 0  # already purged today
    assert Execution.objects.count() == 1


def test_the_scheduler_tick_runs_the_daily_purge(make_job, settings, monkeypatch):
    from scripts_app.scheduling import loop

    monkeypatch.setattr(retention, "_last_purge", None)
    settings.PARSEQ_RETENTION_DAYS = 30
    finished_run(make_job(OUTPUTS), days_old=40)
    assert loop.tick()["purge_old_runs"] == 1
    assert not Execution.objects.exists()
