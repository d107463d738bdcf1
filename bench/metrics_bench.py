"""/metrics at scale, on a throwaway PostgreSQL: ``.venv/bin/python -m bench.metrics_bench``.

Fills the executions table with ``--rows`` runs (default 1,000,000, one a second: 200 jobs,
two queues, a few thousand queued and running, a third scheduled), VACUUM ANALYZEs it, then:
1. the first scrape, which folds every settled run into the totals (once per database);
2. the plan (EXPLAIN ANALYZE, BUFFERS) of each executions query of a steady scrape — the
   gauges' must be an index-only scan of ``exec_active_idx``, none a sequential scan — and
   the time of a whole scrape (median of 5);
3. the same after a burst of ``--burst`` runs (default 120,000: 100 a second) finished in
   the last 20 minutes, the most a scrape reads live.
"""

from __future__ import annotations

import argparse
import time

from bench.scheduler_bench import setup_django

FILL = """
INSERT INTO scripts_app_execution
    (job_id, status, trigger, params, queue, created_at, started_at, finished_at,
     scheduled_for, error, log, log_size, script_sha256, attempt, worker,
     notify_attempts, notified_at)
SELECT j.id,
       s.status,
       CASE WHEN i % 3 = 0 THEN 'schedule' ELSE 'api' END,
       '{{}}'::jsonb,
       CASE WHEN i % 10 = 0 THEN 'heavy' ELSE 'default' END,
       t.created,
       CASE WHEN s.status IN ('queued', 'skipped') THEN NULL ELSE t.created + interval '1 second' END,
       CASE WHEN s.status IN ('queued', 'running') THEN NULL
            ELSE t.created + interval '1 second' + (i % 600) * interval '1 second' END,
       CASE WHEN i % 3 = 0 THEN t.created - (i % 5) * interval '100 milliseconds' END,
       '', '', 0, '', 1, '',
       CASE WHEN i % 50 = 0 THEN 1 + i % 3 ELSE 0 END,
       CASE WHEN i % 100 = 0 THEN t.created + interval '1 hour' END
FROM generate_series(1, {rows}) AS i
JOIN LATERAL (SELECT now() - {span} * ({rows} - i) * interval '1 second' AS created) t ON true
JOIN LATERAL (
    SELECT CASE
        WHEN i > {rows} - {queued} THEN 'queued'
        WHEN i > {rows} - {queued} - {running} THEN 'running'
        WHEN i % 17 = 0 THEN 'failed'
        WHEN i % 101 = 0 THEN 'timed_out'
        WHEN i % 29 = 0 THEN 'skipped'
        ELSE 'succeeded' END AS status
) s ON true
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM scripts_app_job) j
  ON j.n = i % {jobs}
"""


def create_jobs(jobs: int) -> None:
    from scripts_app.models import Job

    Job.objects.bulk_create(
        [
            Job(name=f"Job {n}", slug=f"job-{n}", script_path="hello.py", queue="default")
            for n in range(jobs)
        ]
    )


def fill(rows: int, jobs: int, *, span: float, queued: int = 0, running: int = 0) -> float:
    """``rows`` runs, one every ``span`` seconds up to now; VACUUM ANALYZE after."""
    from django.db import connection

    sql = FILL.format(rows=rows, jobs=jobs, queued=queued, running=running, span=span)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.execute("VACUUM ANALYZE scripts_app_execution")
    return time.perf_counter() - started


def timed_scrape() -> float:
    from scripts_app.observability.metrics import exposition

    started = time.perf_counter()
    exposition()
    return time.perf_counter() - started


def median_scrape() -> str:
    times = sorted(timed_scrape() for _ in range(5))
    return (
        f"median {times[2] * 1000:.1f} ms (min {times[0] * 1000:.1f}, max {times[-1] * 1000:.1f})"
    )


def scrape_queries() -> list[str]:
    """The SQL a scrape sends, in order (captured from the real code)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from scripts_app.observability.metrics import exposition

    with CaptureQueriesContext(connection) as captured:
        exposition()
    return [query["sql"] for query in captured.captured_queries]


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [row[0] for row in cursor.fetchall()]


def show_plans() -> None:
    for sql in scrape_queries():
        if '"scripts_app_execution"' not in sql or not sql.startswith("SELECT"):
            continue
        plan = explain(sql)
        print("\n" + sql[:200] + ("…" if len(sql) > 200 else ""))
        print("\n".join("  " + line for line in plan))
        scans = [line for line in plan if "Scan" in line]
        assert not any("Seq Scan" in line for line in scans), scans
        if '"status" IN' in sql and "GROUP BY" in sql and '"queue"' in sql:
            assert any("Index Only Scan using exec_active_idx" in s for s in scans), scans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--burst", type=int, default=120_000)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    connection.ensure_connection()
    connection.connection.autocommit = True  # VACUUM runs outside a transaction
    create_jobs(args.jobs)
    seconds = fill(args.rows, args.jobs, span=1.0, queued=3000, running=500)
    print(f"filled {args.rows:,} executions in {seconds:.1f} s (then VACUUM ANALYZE)")
    print(f"first scrape, folding the settled runs: {timed_scrape():.2f} s")
    show_plans()
    print(f"\nsteady scrape: {median_scrape()}")
    fill(args.burst, args.jobs, span=0.01)
    print(f"after {args.burst:,} runs finished in the last 20 minutes: {median_scrape()}")


if __name__ == "__main__":
    main()
