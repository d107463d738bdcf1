"""Production-path benchmark: ``.venv/bin/python -m bench.latency_bench``.

Starts a throwaway PostgreSQL and RabbitMQ (the test suite's helpers), then a real
``manage.py rundramatiq --processes 2`` worker, and measures with a no-op script:

1. trigger-to-script-start latency, p50/p99 over ``--runs`` (500) runs one at a time:
   from ``Execution.created_at`` (set when the trigger records the run) to the
   first line of the script (its ``time.time()`` at import, returned as its result);
2. completed runs per second with 2 worker processes, ``--burst`` (1,000) runs at once,
   ``--bursts`` (3) times (the machine is shared: the median and each burst's load are shown);
3. memory (RSS) of the idle worker: its master and worker processes;
4. for comparison, in the same run: (a) spawning ``python manage.py <slug>`` per run
   (the naive way: a whole Django start-up per run), (b) the floor, starting a bare
   interpreter ``python -I -S -c pass``.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOOP = "import time\nSTARTED = time.time()\n\ndef main(data):\n    return {'started': STARTED}\n"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def start_services(threads: int, settings_module: str = "parseq.settings"):
    sys.path.insert(0, str(ROOT))
    from tests.services import postgres, rabbitmq

    pg = postgres.start_cluster()
    rabbit = rabbitmq.start_node(consumer_timeout_ms=1_800_000)
    data = tempfile.mkdtemp(prefix="parseq-bench-")
    atexit.register(shutil.rmtree, data, ignore_errors=True)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": pg.url("postgres"),
        "PARSEQ_BROKER_URL": rabbit.url,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "SECRET_KEY": "bench",
        "PARSEQ_DATA_DIR": data,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rundramatiq", "--processes", "2", "--threads", str(threads)],
        cwd=ROOT,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return pg, rabbit, worker


def stop_services(pg, rabbit, worker) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)
    rabbit.destroy()
    pg.destroy()


def make_job():
    from django.core.files.base import ContentFile

    from scripts_app.models import Job

    job = Job(name="No-op", slug="noop", timeout=60)
    job.script.save("noop.py", ContentFile(NOOP.encode()), save=False)
    job.save()
    return job


def wait_final(ids: list[int], timeout: float = 600, poll: float = 0.005) -> None:
    from scripts_app.models import FINAL_STATUSES, Execution

    deadline = time.monotonic() + timeout
    while Execution.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("runs did not finish in time")
        time.sleep(poll)


def start_latencies(ids: list[int]) -> list[float]:
    from scripts_app.models import Execution

    rows = Execution.objects.filter(pk__in=ids).values_list("status", "created_at", "result")
    bad = [status for status, _, _ in rows if status != "succeeded"]
    if bad:
        raise RuntimeError(f"{len(bad)} runs did not succeed: {set(bad)}")
    return [(result["started"] - created.timestamp()) * 1000 for _, created, result in rows]


def measure_latency(job, runs: int) -> list[float]:
    from scripts_app.models import Trigger
    from scripts_app.runs import dispatch

    ids = []
    for _ in range(runs):
        execution = dispatch.trigger(job, trigger=Trigger.API)
        wait_final([execution.pk])
        ids.append(execution.pk)
    return start_latencies(ids)


def measure_throughput(job, burst: int) -> float:
    from django.db.models import Max, Min

    from scripts_app.models import Execution, Trigger
    from scripts_app.runs import dispatch

    ids = [dispatch.trigger(job, trigger=Trigger.API).pk for _ in range(burst)]
    wait_final(ids, poll=0.1)
    span = Execution.objects.filter(pk__in=ids).aggregate(a=Min("created_at"), b=Max("finished_at"))
    start_latencies(ids)  # all succeeded
    return burst / (span["b"] - span["a"]).total_seconds()


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_rss_mib(pid: int) -> tuple[float, int]:
    """RSS of ``pid`` and its descendants (MiB, process count)."""
    total, count = 0, 0
    for current in process_tree(pid):
        for line in Path(f"/proc/{current}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                count += 1
    return total / 1024, count


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process tree, including its reaped children (scripts, backends)."""
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(worker, pg, rabbit) -> dict[str, float]:
    postmaster = int(Path(pg.data_dir, "postmaster.pid").read_text().split()[0])
    me = os.times()
    return {
        "worker (incl. fork servers and scripts)": tree_cpu_seconds(worker.pid),
        "PostgreSQL": tree_cpu_seconds(postmaster),
        "RabbitMQ": tree_cpu_seconds(rabbit.process.pid),
        "bench (triggers + polling)": me.user + me.system,
    }


def timed_runs(argv: list[str], n: int, env: dict | None = None) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{argv} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        times.append((time.perf_counter() - began) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--bursts", type=int, default=3, help="Bursts to time (median shown).")
    parser.add_argument("--threads", type=int, default=8, help="Threads per worker process.")
    parser.add_argument("--naive", type=int, default=30, help="manage.py <slug> runs to time.")
    args = parser.parse_args()

    pg, rabbit, worker = start_services(args.threads)
    try:
        job = make_job()
        time.sleep(3)  # worker boot
        measure_latency(job, 5)  # warm-up
        idle_rss, processes = tree_rss_mib(worker.pid)

        latencies = measure_latency(job, args.runs)
        before = cpu_snapshot(worker, pg, rabbit)
        throughputs, loads = [], []
        for _ in range(args.bursts):
            throughputs.append(measure_throughput(job, args.burst))
            loads.append(os.getloadavg()[0])
        after = cpu_snapshot(worker, pg, rabbit)

        naive = timed_runs([sys.executable, "manage.py", "noop"], args.naive, env=os.environ)
        floor = timed_runs([sys.executable, "-I", "-S", "-c", "pass"], 50)
    finally:
        stop_services(pg, rabbit, worker)

    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    print(f"trigger-to-script-start over {len(latencies)} runs (ms): ", end="")
    print(
        f"p50 {percentile(latencies, 50):.1f}  p90 {percentile(latencies, 90):.1f}  "
        f"p99 {percentile(latencies, 99):.1f}  mean {statistics.mean(latencies):.1f}"
    )
    each = ", ".join(
        f"{t:.1f} (load {load:.1f})" for t, load in zip(throughputs, loads, strict=True)
    )
    print(
        f"completed no-op runs/s, 2 worker processes, {args.bursts} bursts of {args.burst}: "
        f"median {statistics.median(throughputs):.1f}; each: {each}"
    )
    print("CPU per completed run during the bursts (ms):")
    for name in before:
        print(f"  {name}: {(after[name] - before[name]) * 1000 / (args.burst * args.bursts):.1f}")
    print(f"idle worker RSS: {idle_rss:.0f} MiB over {processes} processes")
    print(
        f"(a) naive `python manage.py noop` per run (ms): p50 {percentile(naive, 50):.0f} "
        f"-> at most {1000 / statistics.mean(naive):.1f} runs/s per core"
    )
    print(f"(b) floor `python -I -S -c pass` (ms): p50 {percentile(floor, 50):.1f}")


if __name__ == "__main__":
    main()
