"""Two schedulers against one real PostgreSQL, ticking together for a simulated
hour across a DST change: every slot of every job is recorded exactly once, with no gaps."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from scripts_app import schedule
from scripts_app.models import Execution, Job
from scripts_app.scheduling import firing, loop

T0 = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # New York springs forward at 07:00 UTC
HOURS = 1
STEP = timedelta(seconds=30)

SCHEDULES = [
    {"cron": "* * * * *", "timezone": "UTC"},
    {"cron": "*/2 * * * *", "timezone": "Europe/Berlin"},
    {"cron": "*/15 * * * *", "timezone": "America/New_York"},  # crosses the spring gap
    {"cron": "30 2 * * *", "timezone": "America/New_York"},  # the gap time itself
    {"start_at": T0 + timedelta(seconds=7), "repeat_every": timedelta(seconds=100)},
    {"start_at": T0 + timedelta(minutes=33)},
]


def ticker(barrier: threading.Barrier, offset: timedelta, errors: list) -> None:
    try:
        now = T0
        while now <= T0 + timedelta(hours=HOURS):
            barrier.wait()
            loop.tick(now + offset)
            now += STEP
    except Exception as exc:  # surfaced in the main thread's assertion
        errors.append(exc)
        barrier.abort()
    finally:
        connection.close()


@pytest.mark.slow
def test_two_schedulers_record_every_slot_exactly_once(database_url, make_job, monkeypatch):
    monkeypatch.setattr(firing, "batch_size", lambda: 2)  # interleave many small claims
    jobs = []
    for i, fields in enumerate(SCHEDULES * 2):
        job = make_job(slug=f"job{i}", overlap_policy="allow" if i % 2 else "skip", **fields)
        first = schedule.next_fire(job, T0 - timedelta(microseconds=1))
        Job.objects.filter(pk=job.pk).update(next_run_at=first)
        jobs.append(job)

    barrier, errors = threading.Barrier(2), []
    threads = [
        threading.Thread(target=ticker, args=(barrier, offset, errors))
        for offset in (timedelta(0), timedelta(seconds=1))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []

    end = T0 + timedelta(hours=HOURS)
    for job in jobs:
        expected = []
        for fire in schedule.fire_times(job, T0 - timedelta(microseconds=1)):
            if fire.utc > end:
                break
            expected.append(fire.utc)
        recorded = list(
            Execution.objects.filter(job=job)
            .order_by("scheduled_for")
            .values_list("scheduled_for", flat=True)
        )
        assert recorded == expected, job.slug
    assert Execution.objects.filter(error__startswith="missed").count() == 0
