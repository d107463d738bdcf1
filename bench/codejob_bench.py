"""Code jobs vs uploaded scripts vs a management command per run:
``.venv/bin/python -m bench.codejob_bench``.

One run, side by side, on a throwaway PostgreSQL and RabbitMQ and a real
``manage.py rundramatiq --processes 2`` worker (bench.latency_bench's harness), with the
settings ``bench.code_settings`` (a host app, ``bench/codejobs``, with a no-op code job):

1. trigger-to-start p50/p99 over ``--runs`` runs one at a time, a code job and a script
   alternating: from ``Execution.created_at`` to the code job's first line (its function
   is called in a child forked from the Django fork server) or the script's first line;
2. completed runs per second, ``--burst`` runs at once, ``--bursts`` times each, alternating;
3. the baseline, ``--naive`` runs each, one at a time: ``python manage.py benchnoop`` (a
   no-op management command: a Django boot per run) and ``python manage.py code-noop``
   (Parseq's one-shot path: a Django boot, the run recorded, the job in a spawned child
   with a Django boot of its own): launch-to-start (the code's first line) and whole run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from bench import latency_bench as harness


def code_job():
    from scripts_app.models import Job

    return Job.objects.get(slug="code-noop")  # synced by migrate (post_migrate)


def alternate_latencies(jobs: dict, runs: int) -> dict[str, list[float]]:
    from scripts_app.models import Trigger
    from scripts_app.runs import dispatch

    ids: dict[str, list[int]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            execution = dispatch.trigger(job, trigger=Trigger.API)
            harness.wait_final([execution.pk])
            ids[name].append(execution.pk)
    return {name: harness.start_latencies(pks) for name, pks in ids.items()}


def naive_runs(command: str, n: int) -> tuple[list[float], list[float]]:
    """(launch-to-start, whole run) in ms of ``manage.py COMMAND`` per run; the command
    prints the time its code started (benchnoop), or the job's result (a slug command)."""
    import json
    import subprocess

    starts, wholes = [], []
    for _ in range(n):
        began = time.time()
        done = subprocess.run(
            [sys.executable, "manage.py", command],
            cwd=harness.ROOT,
            env=os.environ,
            capture_output=True,
            text=True,
        )
        ended = time.time()
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        out = done.stdout.strip()
        started = json.loads(out)["started"] if out.startswith("{") else float(out.split()[-1])
        starts.append((started - began) * 1000)
        wholes.append((ended - began) * 1000)
    return starts, wholes


def summary(values: list[float]) -> str:
    p = harness.percentile
    return f"p50 {p(values, 50):.1f}  p90 {p(values, 90):.1f}  p99 {p(values, 99):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--naive", type=int, default=20)
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.code_settings"
    pg, rabbit, worker = harness.start_services(args.threads, "bench.code_settings")
    try:
        jobs = {"code job": code_job(), "script": harness.make_job()}
        time.sleep(5)  # worker boot (and its Django fork servers)
        alternate_latencies(jobs, 5)  # warm-up
        latencies = alternate_latencies(jobs, args.runs)
        throughput: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(args.bursts):
            for name, job in jobs.items():
                throughput[name].append(harness.measure_throughput(job, args.burst))
        naive = {name: naive_runs(name, args.naive) for name in ("benchnoop", "code-noop")}
    finally:
        harness.stop_services(pg, rabbit, worker)

    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    for name in jobs:
        rates = ", ".join(f"{rate:.1f}" for rate in throughput[name])
        print(
            f"{name}: trigger-to-start over {len(latencies[name])} runs (ms): "
            f"{summary(latencies[name])}; runs/s (2 worker processes, {args.bursts} bursts "
            f"of {args.burst}): median {statistics.median(throughput[name]):.1f} ({rates})"
        )
    for name, (starts, wholes) in naive.items():
        print(
            f"manage.py {name} per run, {len(starts)} runs (ms): launch-to-start "
            f"{summary(starts)}; whole run p50 {harness.percentile(wholes, 50):.0f} "
            f"-> {1000 / statistics.mean(wholes):.2f} runs/s, one at a time"
        )
    code, script = (harness.percentile(latencies[n], 50) for n in ("code job", "script"))
    print(f"code job p50 / script p50 = {code / script:.2f} (target <= 2)")
    for name, (starts, wholes) in naive.items():
        rate = statistics.median(throughput["code job"]) * statistics.mean(wholes) / 1000
        print(
            f"manage.py {name}: launch-to-start p50 / code job p50 = "
            f"{harness.percentile(starts, 50) / code:.0f}x; code job runs/s / its runs/s = "
            f"{rate:.0f}x (target >= 50)"
        )


if __name__ == "__main__":
    main()
