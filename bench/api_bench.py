"""REST API benchmark on a throwaway PostgreSQL: ``.venv/bin/python -m bench.api_bench``.

1. 1,000,000 executions (50 jobs, realistic status mix): latency of the newest page of
   ``GET /api/v1/executions/?job=<slug>&status=<status>`` through the whole Django stack
   (token auth, permissions, filters, cursor pagination, serializer), p50/p95/p99, and
   the EXPLAIN plan of its query.
2. A 1 GB artifact downloaded from a gunicorn server (``GET …/artifacts/<name>``):
   the server process's RSS before, during (sampled) and its peak (VmHWM) after.

Options: ``--rows N`` (default 1000000), ``--requests N`` (200), ``--download-mb N`` (1024).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = 50


def setup_django() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from tests.services import postgres

    server = postgres.start_cluster()
    data = tempfile.mkdtemp(prefix="parseq-bench-")
    env = {
        "DATABASE_URL": server.url("postgres"),
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "SECRET_KEY": "bench",
        "DEBUG": "0",
        "PARSEQ_DATA_DIR": data,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return env


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def seed(rows: int) -> tuple[str, list[int]]:
    """50 jobs and ``rows`` executions, one second apart, newest first by id."""
    from django.contrib.auth.models import User
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from scripts_app.models import Execution, Job, Trigger

    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    token = Token.objects.create(user=user).key
    jobs = Job.objects.bulk_create(
        Job(name=f"job {i}", slug=f"job-{i:02d}", script_path="hello.py") for i in range(JOBS)
    )
    job_ids = [job.pk for job in jobs]
    # One template row from the ORM, so every column (and any added later) gets its default.
    template = Execution.objects.create(job=jobs[0], trigger=Trigger.API)
    table = Execution._meta.db_table
    columns = [f.column for f in Execution._meta.concrete_fields if f.column != "id"]
    overrides = {
        "job_id": f"(ARRAY{job_ids}::bigint[])[1 + g % {JOBS}]",
        # Within each job: 80% succeeded, 10% failed, 10% spread over the rest.
        "status": (
            f"CASE WHEN (g / {JOBS}) % 10 < 8 THEN 'succeeded' "
            f"WHEN (g / {JOBS}) % 10 = 8 THEN 'failed' "
            f"ELSE (ARRAY['queued','running','timed_out','cancelled','skipped'])"
            f"[1 + (g / {JOBS * 10}) % 5] END"
        ),
        "trigger": "(ARRAY['schedule','api','http','admin'])[1 + g % 4]",
        "created_at": "now() - make_interval(secs => g)",
    }
    select = ", ".join(overrides.get(c, f't."{c}"') for c in columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({quoted}) "
            f"SELECT {select} FROM {table} t, generate_series(1, {int(rows) - 1}) g "
            f"WHERE t.id = {int(template.pk)}"
        )
        cursor.execute(f"ANALYZE {table}")
    print(f"seeded {rows:,} executions in {time.perf_counter() - started:.1f} s")
    return token, job_ids


def bench_list(token: str, requests: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    results = {}
    load = os.getloadavg()[:1]
    for status in ("failed", "succeeded", "timed_out"):
        url = f"/api/v1/executions/?job=job-07&status={status}"
        for _ in range(20):  # warm-up: connection, caches, plans
            assert client.get(url).status_code == 200
        times, cpu = [], []
        for _ in range(requests):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            assert response.status_code == 200
        page = response.json()
        next_url = page["next"]
        next_times = [0.0]
        for _ in range(requests // 4 if next_url else 0):
            started = time.perf_counter()
            assert client.get(next_url).status_code == 200
            next_times.append((time.perf_counter() - started) * 1000)
        results[status] = {
            "rows_on_page": len(page["results"]),
            "p50": statistics.median(times),
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
            "cpu_p50": statistics.median(cpu),
            "next_p95": percentile(next_times, 95),
        }
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/executions/?job=job-07&status=failed")
    main = next(
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "scripts_app_execution"."id"')
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + main)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {"results": results, "sql": main, "plan": plan, "load": load + os.getloadavg()[:1]}


# --- download --------------------------------------------------------------------------


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def make_artifact(size_mb: int) -> tuple[int, str]:
    from django.conf import settings

    from scripts_app.models import Artifact, Execution, Job, Status, Trigger
    from scripts_app.worker.outputs import artifact_storage_name

    job = Job.objects.get(slug="job-00")
    execution = Execution.objects.create(job=job, trigger=Trigger.API, status=Status.SUCCEEDED)
    name = artifact_storage_name(execution.pk, "data/big.bin")
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:  # real bytes, not a sparse file: the disk is read
        block = os.urandom(1024 * 1024)
        for _ in range(size_mb):
            handle.write(block)
    Artifact.objects.create(
        execution=execution, name="data/big.bin", file=name, size=size_mb * 1024 * 1024
    )
    return execution.pk, name


def bench_download(env: dict[str, str], token: str, size_mb: int) -> dict:
    from tests.services import free_port

    execution_id, _ = make_artifact(size_mb)
    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "parseq.wsgi:application",
            "--workers=1",
            f"--bind=127.0.0.1:{port}",
            "--timeout=300",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        headers = {"Authorization": f"Token {token}"}

        def get(path: str) -> http.client.HTTPResponse:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            conn.request("GET", path, headers=headers)
            return conn.getresponse()

        deadline = time.monotonic() + 60
        while True:
            try:
                warm = get(f"/api/v1/executions/{execution_id}/")
                warm.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for _ in range(20):  # baseline after the app is fully loaded and warm
            get("/api/v1/executions/?job=job-00&page_size=50").read()
        worker = children(server.pid)[0]
        baseline = rss_kib(worker)
        baseline_hwm = rss_kib(worker, "VmHWM")
        samples: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(rss_kib(worker))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        response = get(f"/api/v1/executions/{execution_id}/artifacts/data/big.bin")
        assert response.status == 200, response.status
        received = 0
        while chunk := response.read(1024 * 1024):
            received += len(chunk)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        assert received == size_mb * 1024 * 1024, received
        return {
            "bytes": received,
            "seconds": elapsed,
            "baseline_rss_mib": baseline / 1024,
            "baseline_hwm_mib": baseline_hwm / 1024,
            "max_sampled_rss_mib": max(samples) / 1024,
            "peak_hwm_mib": rss_kib(worker, "VmHWM") / 1024,
            "samples": len(samples),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--download-mb", type=int, default=1024)
    args = parser.parse_args()

    env = setup_django()
    token, _ = seed(args.rows)
    listing = bench_list(token, args.requests)
    print(f"\nGET /api/v1/executions/?job=job-07&status=… ({args.requests} requests each, ms)")
    print("status     rows  p50    p95    p99    next-page p95  CPU p50 (this process)")
    for status, r in listing["results"].items():
        print(
            f"{status:<10} {r['rows_on_page']:>4}  {r['p50']:5.2f}  {r['p95']:5.2f}  "
            f"{r['p99']:5.2f}  {r['next_p95']:5.2f}          {r['cpu_p50']:5.2f}"
        )
    print(f"load average before/after: {listing['load']}")
    print("\nquery:\n" + listing["sql"])
    print("\nplan:\n" + listing["plan"])
    download = bench_download(env, token, args.download_mb)
    print(
        f"\ndownload {download['bytes'] / 2**20:,.0f} MiB in {download['seconds']:.1f} s "
        f"({download['bytes'] / 2**20 / download['seconds']:,.0f} MiB/s)\n"
        f"gunicorn worker RSS: baseline {download['baseline_rss_mib']:.1f} MiB "
        f"(peak so far {download['baseline_hwm_mib']:.1f}), "
        f"max during download {download['max_sampled_rss_mib']:.1f} MiB "
        f"({download['samples']} samples), peak after (VmHWM) {download['peak_hwm_mib']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
