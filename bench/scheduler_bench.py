"""Scheduler benchmark on a throwaway PostgreSQL: ``.venv/bin/python -m bench.scheduler_bench``.

1. 100,000 enabled jobs, none due: cost of the idle check (one indexed query) and
   its plan, against a naive loop that loads every job each tick.
2. 10,000 jobs due in the same minute: time until all executions are created and sent.
3. 1,000 jobs due at once with the real loop running: fire lag p50/p99, against
   the naive loop.

Options: ``--jobs N`` (default 100000), ``--due N`` (10000), ``--lag N`` (1000).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.services import postgres

    server = postgres.start_cluster()
    data = tempfile.mkdtemp(prefix="parseq-bench-")
    os.environ.update(
        DATABASE_URL=server.url("postgres"),
        DJANGO_SETTINGS_MODULE="parseq.settings",
        SECRET_KEY="bench",
        PARSEQ_DATA_DIR=data,
        LOG_LEVEL="WARNING",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def create_jobs(count: int) -> None:
    from scripts_app.models import Job

    far = datetime(2099, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(count):
        batch.append(
            Job(
                name=f"job {i}",
                slug=f"job-{i}",
                script_path="hello.py",
                cron="0 0 1 1 *",
                timezone="UTC",
                next_run_at=far + timedelta(seconds=i),
                overlap_policy="allow",
            )
        )
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    Job.objects.bulk_create(batch)


def make_due(ids: list[int], at: datetime) -> None:
    """Give ``ids`` an every-minute schedule due at ``at`` and a stored script version
    (steady state: a job has run before, so its version exists)."""
    from django.db import connection

    from scripts_app.models import Job, ScriptVersion

    source = (ROOT / "parsers" / "hello.py").read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    Job.objects.filter(pk__in=ids).update(cron="* * * * *", next_run_at=at)
    ScriptVersion.objects.bulk_create(
        [
            ScriptVersion(
                job_id=i,
                sha256=digest,
                file="bench/hello.py",
                size=len(source),
                source="parsers/hello.py",
            )
            for i in ids
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def park(ids: list[int]) -> None:
    from scripts_app.models import Execution, Job

    Execution.objects.all().delete()
    Job.objects.filter(pk__in=ids).update(
        cron="0 0 1 1 *", next_run_at=datetime(2099, 1, 1, tzinfo=UTC)
    )


def naive_tick(now: datetime) -> list:
    """What a naive scheduler does each tick: load every enabled job, test each."""
    from scripts_app.models import Job

    return [job for job in Job.objects.filter(enabled=True) if job.next_run_at <= now]


def naive_fire(now: datetime) -> int:
    from scripts_app import schedule
    from scripts_app.models import Job, Trigger
    from scripts_app.runs import dispatch

    fired = 0
    for job in naive_tick(now):
        dispatch.trigger(job, trigger=Trigger.SCHEDULE, scheduled_for=job.next_run_at)
        Job.objects.filter(pk=job.pk).update(next_run_at=schedule.next_fire(job, job.next_run_at))
        fired += 1
    return fired


def bench_idle(report: dict) -> None:
    from django.db import connection

    from scripts_app.models import Job
    from scripts_app.scheduling import loop

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for _ in range(50):
        loop.next_due()
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        loop.next_due()
    report["idle_query_ms"] = (time.perf_counter() - started) / rounds * 1000
    query = (
        Job.objects.filter(enabled=True, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)[:1]
    )
    report["idle_plan"] = query.explain(analyze=True, buffers=True)
    now = datetime.now(UTC)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        naive_tick(now)
        timings.append(time.perf_counter() - started)
    report["naive_idle_ms"] = statistics.median(timings) * 1000


def bench_due(report: dict, ids: list[int]) -> None:
    from django.db import connection

    from scripts_app.models import Execution
    from scripts_app.scheduling import firing

    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    make_due(ids, minute)
    connection.close()
    started = time.perf_counter()
    fired = firing.fire_due(minute + timedelta(seconds=1))
    report["due_seconds"] = time.perf_counter() - started
    report["due_runs"] = fired.runs
    report["due_sent"] = Execution.objects.filter(sent_at__isnull=False).count()
    park(ids)


def measure_lag(ids: list[int], loop) -> tuple[float, float, float]:
    """Start ``loop(stop)`` in a thread, make ``ids`` due 2 s later, return lag p50/p99/max."""
    from django.db import connection

    from scripts_app.models import Execution

    due_at = datetime.now(UTC) + timedelta(seconds=2)
    make_due(ids, due_at)
    stop = threading.Event()

    def target():
        try:
            loop(stop)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 120
    while Execution.objects.count() < len(ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    thread.join()
    lags = [
        (created - slot).total_seconds()
        for created, slot in Execution.objects.values_list("created_at", "scheduled_for")
    ]
    park(ids)
    return percentile(lags, 50), percentile(lags, 99), max(lags)


def naive_loop(stop: threading.Event) -> None:
    while not stop.is_set():
        naive_fire(datetime.now(UTC))
        stop.wait(1.0)


def bench_lag(report: dict, ids: list[int]) -> None:
    from scripts_app.scheduling import loop

    report["lag"] = measure_lag(ids, lambda stop: loop.run(stop, poll=1.0))
    report["naive_lag"] = measure_lag(ids, naive_loop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--lag", type=int, default=1_000)
    args = parser.parse_args()
    setup_django()
    from scripts_app.models import Job

    report: dict = {}
    started = time.perf_counter()
    create_jobs(args.jobs)
    print(f"created {args.jobs:,} jobs in {time.perf_counter() - started:.1f} s", flush=True)
    ids = list(Job.objects.order_by("pk").values_list("pk", flat=True))
    bench_idle(report)
    print(
        f"idle check: {report['idle_query_ms']:.3f} ms per query; naive tick "
        f"{report['naive_idle_ms']:.0f} ms ({report['naive_idle_ms'] / report['idle_query_ms']:,.0f}x)",
        flush=True,
    )
    print(report["idle_plan"], flush=True)
    bench_due(report, ids[: args.due])
    print(
        f"{report['due_runs']:,} due jobs → {report['due_runs']:,} executions created, "
        f"{report['due_sent']:,} sent in {report['due_seconds']:.2f} s",
        flush=True,
    )
    bench_lag(report, ids[: args.lag])
    p50, p99, worst = report["lag"]
    n50, n99, nworst = report["naive_lag"]
    print(
        f"fire lag over {args.lag:,} jobs: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {worst * 1000:.0f} ms",
        flush=True,
    )
    print(
        f"naive loop:               p50 {n50 * 1000:.0f} ms, p99 {n99 * 1000:.0f} ms, "
        f"max {nworst * 1000:.0f} ms (p50 {n50 / p50:.1f}x, p99 {n99 / p99:.1f}x)",
        flush=True,
    )


if __name__ == "__main__":
    main()
