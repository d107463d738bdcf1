"""Sandbox on vs off, in one run: ``.venv/bin/python -m bench.sandbox_bench``.

Starts a throwaway PostgreSQL and RabbitMQ (the test suite's helpers) and measures a
no-op script (bench/latency_bench.py's) with PARSEQ_SANDBOX=bwrap and with
PARSEQ_SANDBOX=off (as the worker's own user, the runner before issue 15), alternately:

1. production path: a real ``manage.py rundramatiq --processes 2`` worker per mode;
   trigger-to-script-start p50/p99 over ``--runs`` runs one at a time, and completed
   runs/s for a burst of ``--burst`` runs;
2. in-process (the embedded worker's hot path without a broker): ``execution.execute``
   one run after another in this process, forked from its fork server — start
   p50/p99 and runs/s.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from bench.latency_bench import ROOT, make_job, percentile, wait_final

MODES = {"off": {"PARSEQ_SANDBOX": "off", "PARSEQ_SCRIPT_USER": "root"},
         "bwrap": {"PARSEQ_SANDBOX": "bwrap"}}  # fmt: skip


def start_base():
    sys.path.insert(0, str(ROOT))
    import shutil
    import tempfile

    from tests.services import postgres, rabbitmq

    pg = postgres.start_cluster()
    rabbit = rabbitmq.start_node(consumer_timeout_ms=1_800_000)
    data = tempfile.mkdtemp(prefix="parseq-bench-")
    os.chmod(data, 0o755)  # the script user (nobody) reaches its workspace
    import atexit

    atexit.register(shutil.rmtree, data, ignore_errors=True)
    os.environ.update(
        {
            "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
            "DATABASE_URL": pg.url("postgres"),
            "PARSEQ_BROKER_URL": rabbit.url,
            "DJANGO_SETTINGS_MODULE": "parseq.settings",
            "SECRET_KEY": "bench",
            "PARSEQ_DATA_DIR": data,
            "LOG_LEVEL": "WARNING",
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return pg, rabbit


def start_worker(mode: str, threads: int) -> subprocess.Popen:
    argv = [sys.executable, "manage.py", "rundramatiq", "--processes", "2",
            "--threads", str(threads)]  # fmt: skip
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **MODES[mode]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)


def outcome(ids: list[int]) -> tuple[list[float], dict]:
    """Start latencies (ms) of the runs that succeeded, and the errors of the others."""
    from collections import Counter

    from scripts_app.models import Execution

    rows = Execution.objects.filter(pk__in=ids).values_list(
        "status", "created_at", "result", "error"
    )
    failed = Counter(f"{status}: {error}" for status, _, _, error in rows if status != "succeeded")
    latencies = [(result["started"] - created.timestamp()) * 1000
                 for status, created, result, _ in rows if status == "succeeded"]  # fmt: skip
    return latencies, dict(failed)


def measure_latency(job, runs: int) -> tuple[list[float], dict]:
    from scripts_app.models import Trigger
    from scripts_app.runs import dispatch

    ids = []
    for _ in range(runs):
        ids.append(dispatch.trigger(job, trigger=Trigger.API).pk)
        wait_final(ids[-1:])
    return outcome(ids)


def measure_throughput(job, burst: int) -> tuple[float, dict]:
    from django.db.models import Max, Min

    from scripts_app.models import Execution, Trigger
    from scripts_app.runs import dispatch

    ids = [dispatch.trigger(job, trigger=Trigger.API).pk for _ in range(burst)]
    wait_final(ids, poll=0.1)
    span = Execution.objects.filter(pk__in=ids).aggregate(a=Min("created_at"), b=Max("finished_at"))
    return burst / (span["b"] - span["a"]).total_seconds(), outcome(ids)[1]


def production(job, mode: str, args) -> dict:
    worker = start_worker(mode, args.threads)
    try:
        time.sleep(4)  # worker boot
        measure_latency(job, 10)  # warm-up (the fork servers start)
        latencies, failed = measure_latency(job, args.runs)
        rate, burst_failed = measure_throughput(job, args.burst)
        load = os.getloadavg()[0]
    finally:
        stop_worker(worker)
    return {
        "latencies": latencies,
        "rate": rate,
        "load": load,
        "failed": {**failed, **burst_failed},
    }


def in_process(job, mode: str, runs: int) -> dict:
    from django.conf import settings

    from scripts_app.models import Trigger
    from scripts_app.runs import dispatch
    from scripts_app.worker import execution, sandboxing
    from scripts_app.worker.runner import zygote

    for name, value in MODES[mode].items():
        setattr(settings, name, value)
    zygote.enable()
    try:
        for _ in range(10):  # warm-up
            execution.execute(dispatch.trigger(job, trigger=Trigger.API, send=False).pk)
        began = time.perf_counter()
        ids = [
            execution.execute(dispatch.trigger(job, trigger=Trigger.API, send=False).pk).pk
            for _ in range(runs)
        ]
        seconds = time.perf_counter() - began
    finally:
        zygote.disable()
    assert sandboxing.state().sandboxed == (mode == "bwrap"), sandboxing.state()
    latencies, failed = outcome(ids)
    return {"latencies": latencies, "rate": runs / seconds, "load": os.getloadavg()[0],
            "failed": failed}  # fmt: skip


def line(name: str, figures: dict) -> str:
    lat = figures["latencies"]
    return (
        f"  {name:5}: start p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms; "
        f"{figures['rate']:.1f} runs/s (load {figures['load']:.1f})"
        + (f"; NOT succeeded: {figures['failed']}" if figures["failed"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8, help="Threads per worker process.")
    args = parser.parse_args()

    pg, rabbit = start_base()
    results: dict[str, dict] = {}
    try:
        job = make_job()
        for mode in ("off", "bwrap"):
            results[f"production {mode}"] = production(job, mode, args)
        for mode in ("off", "bwrap"):
            results[f"in-process {mode}"] = in_process(job, mode, args.runs)
    finally:
        rabbit.destroy()
        pg.destroy()

    print(f"cpus: {os.cpu_count()}; {args.runs} runs one at a time, a burst of {args.burst}")
    for where in ("production", "in-process"):
        print(f"{where} (2 worker processes):" if where == "production" else f"{where}:")
        for mode in ("off", "bwrap"):
            print(line(mode, results[f"{where} {mode}"]))
        off = percentile(results[f"{where} off"]["latencies"], 50)
        on = percentile(results[f"{where} bwrap"]["latencies"], 50)
        print(f"  sandboxed p50 / unsandboxed p50 = {on / off:.2f}")


if __name__ == "__main__":
    main()
