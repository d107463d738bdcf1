"""Per-script environments benchmark: ``.venv/bin/python -m bench.env_bench``.

The production path of bench/latency_bench.py (throwaway PostgreSQL and RabbitMQ, a
real ``manage.py rundramatiq --processes 2`` worker), with packages served offline from
wheels made here (tests/package_index.py), measuring in one run:

1. cold build time of an environment (``uv venv`` + ``uv pip install`` of the lock,
   bytecode compiled, runtime copied): with an empty uv cache, and with a warm one;
2. trigger-to-script-start p50/p99, alternating run by run between a script that
   declares dependencies (its environment built and its fork server warm) and a
   script that declares none — same machine, same minutes;
3. the alternative to Parseq's cache, ``uv run --script`` per run (uv's own
   environment cache warm): through the same worker (a no-dependency launcher execs
   ``uv run --script``, measured to the real script's first line, in the same
   alternation), and bare (process start to first line, no Parseq around it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.latency_bench import (
    NOOP,
    ROOT,
    percentile,
    start_latencies,
    start_services,
    stop_services,
    wait_final,
)

DEPS = (
    '# /// script\n# dependencies = ["tinydep"]\n# ///\n'
    "import time\nSTARTED = time.time()\nimport tinydep, tinypkg\n\n"
    "def main(data):\n    return {'started': STARTED, 'tinypkg': tinypkg.__version__}\n"
)
UV_RUN = (
    '# /// script\n# dependencies = ["tinydep"]\n# ///\n'
    "import time\nprint(time.time(), flush=True)\nimport tinydep\n"
)
# Run by uv, not by Parseq's bootstrap: it reports its start as main()'s result would.
UV_RUN_IN_PARSEQ = (
    '# /// script\n# dependencies = ["tinydep"]\n# ///\n'
    "import time\nSTARTED = time.time()\nimport json, os, tinydep\n"
    "with open(os.environ['PARSEQ_RESULT_FILE'], 'w') as out:\n"
    "    json.dump({'started': STARTED}, out)\n"
)
LAUNCHER = (
    "import os\nos.execv({uv!r}, [{uv!r}, 'run', '--quiet', '--no-index', '--script', {path!r}])\n"
)


def summary(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):.1f}  p90 {percentile(values, 90):.1f}  "
        f"p99 {percentile(values, 99):.1f} ms (n={len(values)})"
    )


def make_job(slug: str, source: str, env: dict | None = None):
    from django.core.files.base import ContentFile

    from scripts_app.jobs import versions
    from scripts_app.models import Job

    job = Job(name=slug, slug=slug, timeout=60, env=env or {})
    job.script.save(f"{slug}.py", ContentFile(source.encode()), save=False)
    job.save()
    versions.current_version(job)  # locked here, as an upload is
    return job


def cold_builds(lock, count: int) -> tuple[list[float], list[float]]:
    """Seconds per build: each in a new cache (empty uv cache), then again in that cache
    for a second lock (uv cache warm, environment new)."""
    from scripts_app.environments import cache as envcache
    from scripts_app.environments import locking, uvtool

    other = locking.lock_script(b"# /// script\n# dependencies = ['tinypkg==1.0']\n# ///\n")
    cold, warm = [], []
    for _ in range(count):
        root = Path(tempfile.mkdtemp(prefix="parseq-envbench-"))
        cache = envcache.Cache(root, max_bytes=1 << 40, index=uvtool.Index.from_settings())
        for target, kept in ((lock, cold), (other, warm)):
            began = time.perf_counter()
            cache.acquire(target.text, target.sha256).release()
            kept.append(time.perf_counter() - began)
        subprocess.run(["rm", "-rf", str(root)], check=True)
    return cold, warm


def index_build(packages: list[str]) -> tuple[float, float, float, str]:
    """Lock and build real packages from the package index (PyPI unless configured):
    (lock seconds, cold build seconds, warm-cache build seconds, the pins)."""
    from django.test import override_settings

    from scripts_app.environments import cache as envcache
    from scripts_app.environments import locking, uvtool

    root = Path(tempfile.mkdtemp(prefix="parseq-envbench-index-"))
    block = "".join(["# /// script\n# dependencies = ", repr(packages), "\n# ///\n"])
    with override_settings(
        PARSEQ_PIP_INDEX_URL="", PARSEQ_PIP_FIND_LINKS=[], PARSEQ_ENV_CACHE=root
    ):
        began = time.perf_counter()
        lock = locking.lock_script(block.replace("'", '"').encode())
        locked = time.perf_counter() - began
        index = uvtool.Index.from_settings()
    times = []
    for _ in range(2):  # the first with an empty uv cache (but for what locking fetched)
        cache = envcache.Cache(root, max_bytes=1 << 40, index=index)
        began = time.perf_counter()
        cache.acquire(lock.text, lock.sha256).release()
        times.append(time.perf_counter() - began)
        cache.prune(everything=True)
    subprocess.run(["rm", "-rf", str(root)], check=True)
    pins = ", ".join(f"{name}=={version}" for name, version in locking.pinned_packages(lock.text))
    return locked, times[0], times[1], pins


def alternate(jobs, runs: int) -> dict[str, list[float]]:
    from scripts_app.models import Trigger
    from scripts_app.runs import dispatch

    ids: dict[str, list[int]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            execution = dispatch.trigger(job, trigger=Trigger.API)
            wait_final([execution.pk])
            ids[name].append(execution.pk)
    return {name: start_latencies(pks) for name, pks in ids.items()}


def uv_env(folder: Path, wheels: Path) -> dict[str, str]:
    from scripts_app.environments import uvtool

    return {
        "UV_CACHE_DIR": str(folder / "uv-cache"),
        "UV_FIND_LINKS": str(wheels),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": uvtool.base_python(),
    }


def uv_run_job(wheels: Path):
    """A job whose (dependency-free) script execs ``uv run --script`` on the real one."""
    from scripts_app.environments import uvtool

    folder = Path(tempfile.mkdtemp(prefix="parseq-uvrun-job-"))
    os.chmod(folder, 0o755)
    real = folder / "real.py"
    real.write_text(UV_RUN_IN_PARSEQ)
    launcher = LAUNCHER.format(uv=uvtool.uv_bin(), path=str(real))
    return make_job("uvrun", launcher, env=uv_env(folder, wheels))


def uv_run_latencies(wheels: Path, count: int) -> list[float]:
    from scripts_app.environments import uvtool

    folder = Path(tempfile.mkdtemp(prefix="parseq-uvrun-"))
    script = folder / "script.py"
    script.write_text(UV_RUN)
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), **uv_env(folder, wheels)}
    argv = [uvtool.uv_bin(), "run", "--quiet", "--no-index", "--script", str(script)]
    subprocess.run(argv, env=env, check=True, capture_output=True)  # uv builds its env once
    latencies = []
    for _ in range(count):
        began = time.time()
        done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
        latencies.append((float(done.stdout.split()[0]) - began) * 1000)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="Runs of each script, alternating.")
    parser.add_argument("--builds", type=int, default=5, help="Cold builds to time.")
    parser.add_argument("--uv-runs", type=int, default=30, help="`uv run --script` runs.")
    parser.add_argument("--threads", type=int, default=8, help="Threads per worker process.")
    parser.add_argument(
        "--index-packages",
        default="",
        help="Also lock and build these real packages from the index, e.g. 'beautifulsoup4 httpx'.",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from tests.package_index import make_wheelhouse

    wheels = make_wheelhouse(Path(tempfile.mkdtemp(prefix="parseq-wheels-")))
    os.environ.update(PARSEQ_PIP_INDEX_URL="none", PARSEQ_PIP_FIND_LINKS=str(wheels))
    pg, rabbit, worker = start_services(args.threads)
    try:
        from scripts_app.environments import locking
        from scripts_app.models import Execution
        from scripts_app.runs import logs

        jobs = {
            "no dependencies": make_job("noop", NOOP),
            "with dependencies": make_job("deps", DEPS),
            "uv run --script per run": uv_run_job(wheels),
        }
        time.sleep(3)  # worker boot
        first = alternate(jobs, 1)
        built = Execution.objects.filter(job__slug="deps").order_by("pk").first()
        first_line = logs.read_log(built)[0].decode().splitlines()[0]
        alternate(jobs, 10)  # warm-up: each worker process warms its environment's server
        latencies = alternate(jobs, args.runs)
        version = jobs["with dependencies"].versions.get()
        cold, warm = cold_builds(locking.Lock(None, version.lock), args.builds)
        uv_run = uv_run_latencies(wheels, args.uv_runs)
        real = index_build(args.index_packages.split()) if args.index_packages else None
    finally:
        stop_services(pg, rabbit, worker)

    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    print(f"first run with dependencies on the worker: {first_line!r}")
    print(
        f"(first runs, trigger-to-start: {', '.join(f'{k} {v[0]:.0f} ms' for k, v in first.items())})"
    )
    print(f"cold build, empty uv cache (s): {', '.join(f'{s:.2f}' for s in cold)}")
    print(f"new environment, warm uv cache (s): {', '.join(f'{s:.2f}' for s in warm)}")
    if real:
        print(f"real packages from the index ({real[3]}): lock {real[0]:.2f} s, ", end="")
        print(
            f"build {real[1]:.2f} s (uv cache holding only the lock's metadata), {real[2]:.2f} s (warm)"
        )
    for name, values in latencies.items():
        print(f"trigger-to-script-start, {name}: {summary(values)}")
    ratio = percentile(latencies["with dependencies"], 50) / percentile(
        latencies["no dependencies"], 50
    )
    print(f"warm p50 with dependencies / without: {ratio:.2f}x (target <= 1.5x)")
    print(f"bare `uv run --script`, process start to first line: {summary(uv_run)}")


if __name__ == "__main__":
    main()
