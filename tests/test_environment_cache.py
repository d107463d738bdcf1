"""A worker's environment cache: built once however many runs need it at once, never used
half-built, least recently used evicted first, never an environment in use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.core.management import call_command
from django.test import override_settings

from scripts_app.environments import cache as envcache
from scripts_app.environments import locking, records
from scripts_app.models import EnvironmentCopy, Status, Trigger
from scripts_app.runs import dispatch, logs
from scripts_app.worker import environments, execution
from tests.conftest import execute_concurrently
from tests.package_index import LocalIndex, pep723
from tests.runner_helpers import ROOT

VERSION = "import tinypkg\n\ndef main(data):\n    return tinypkg.__version__\n"


def wait_until(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def lock_of(*dependencies: str) -> locking.Lock:
    return locking.lock_script(pep723(*dependencies).encode())


def test_ten_concurrent_first_runs_build_one_environment(
    make_job, offline_packages, transactional_db, tmp_path
):
    job = make_job(pep723("tinypkg==2.0", body=VERSION), slug="crowd")
    ids = [dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk for _ in range(10)]
    slow = LocalIndex(offline_packages, delay=0.5)  # the build takes a while: all ten wait
    try:
        with override_settings(PARSEQ_PIP_INDEX_URL=slow.url(), PARSEQ_PIP_FIND_LINKS=[]):
            environments.forget_caches()
            ended = execute_concurrently(ids)
    finally:
        slow.close()

    assert [ended[pk].result for pk in ids] == ["2.0"] * 10
    lines = [logs.read_log(ended[pk])[0].decode().splitlines()[0] for pk in ids]
    assert len([line for line in lines if ": built in " in line]) == 1, lines
    assert len([line for line in lines if "cached (built by another run; waited" in line]) == 9
    assert [path for path in slow.requests if path.startswith("/files/")] == [
        "/files/tinypkg-2.0-py3-none-any.whl"
    ]
    assert len(environments.worker_cache().entries()) == 1


BUILDER = """
import sys
from pathlib import Path
from scripts_app.environments.cache import Cache
from scripts_app.environments.uvtool import Index

root, index, lock_file, sha = sys.argv[1:]
cache = Cache(Path(root), max_bytes=1 << 30, index=Index(default=index))
cache.acquire(Path(lock_file).read_text(), sha)
"""


def test_an_interrupted_build_is_never_used_and_the_next_run_builds_afresh(
    offline_packages, tmp_path, settings
):
    lock = lock_of("tinypkg==1.0")
    (tmp_path / "lock.txt").write_text(lock.text)
    root = Path(settings.PARSEQ_ENV_CACHE)
    stalled = LocalIndex(offline_packages, delay=60)  # uv waits for the wheel until killed
    try:
        builder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                BUILDER,
                str(root),
                stalled.url(),
                str(tmp_path / "lock.txt"),
                lock.sha256,
            ],  # fmt: skip
            cwd=ROOT,
            start_new_session=True,
        )
        wait_until(lambda: stalled.requests)  # uv is downloading into its build folder
        os.killpg(builder.pid, signal.SIGKILL)  # the worker and its uv die mid-build
        builder.wait(10)
    finally:
        stalled.close()
    cache = environments.worker_cache()
    key = envcache.env_key(lock.sha256)
    assert [p.name.startswith(f".build-{key}-") for p in cache.envs.iterdir()] == [True]
    assert cache.entries() == [] and not (cache.envs / key).exists()

    use = cache.acquire(lock.text, lock.sha256)
    try:
        assert use.built and Path(use.python).exists()
        done = subprocess.run(
            [use.python, "-c", "import tinypkg; print(tinypkg.__version__)"],
            capture_output=True,
            text=True,
        )
        assert done.stdout == "1.0\n"
    finally:
        use.release()
    assert [p.name for p in cache.envs.iterdir()] == [key]  # the debris is gone


def test_eviction_takes_the_least_recently_used_first_and_never_one_in_use(offline_packages, db):
    cache = environments.worker_cache()
    locks = [lock_of("tinypkg==1.0"), lock_of("tinypkg==2.0"), lock_of("tinydep")]
    for age, lock in zip((300, 200, 100), locks, strict=True):
        cache.acquire(lock.text, lock.sha256).release()
        then = time.time() - age
        os.utime(cache.locks / f"{envcache.env_key(lock.sha256)}.use", (then, then))
    oldest, middle, newest = (envcache.env_key(lock.sha256) for lock in locks)
    held = cache.acquire(locks[0].text, locks[0].sha256)  # a run on the oldest, right now
    os.utime(cache.locks / f"{oldest}.use", (time.time() - 400, time.time() - 400))
    try:
        sizes = {entry.key: entry.size_bytes for entry in cache.entries()}
        evicted = cache.enforce_cap(sizes[newest] + sizes[oldest])
        assert [entry.key for entry in evicted] == [middle]
        assert cache.enforce_cap(0) and {e.key for e in cache.entries()} == {oldest}
        assert Path(held.python).exists()
    finally:
        held.release()
    assert [entry.key for entry in cache.prune(everything=True)] == [oldest]


def test_pruneenvs_keeps_an_environment_a_running_script_uses(
    make_job, offline_packages, transactional_db
):
    sleeper = make_job(pep723("tinypkg==1.0", body="import time\ntime.sleep(2)\n"), slug="busy")
    idle = make_job(pep723("tinypkg==2.0", body=VERSION), slug="idle")
    assert execution.execute(dispatch.trigger(idle, trigger="cli", send=False).pk).result == "2.0"
    cache = environments.worker_cache()
    busy_id = dispatch.trigger(sleeper, trigger="cli", send=False).pk
    worker = threading.Thread(target=execute_concurrently, args=([busy_id],))
    worker.start()
    wait_until(lambda: len(cache.entries()) == 2 and all(map(cache.in_use, cache.entries()[1:])))
    (cache.envs / ".build-0123-cpython-311-dead").mkdir()  # an interrupted build's debris

    from io import StringIO

    out = StringIO()
    call_command("pruneenvs", "--all", stdout=out)
    worker.join(60)

    busy = sleeper.executions.get()
    assert busy.status == Status.SUCCEEDED, busy.error
    kept = [entry.lock_sha256 for entry in cache.entries()]
    assert kept == [busy.script_version.lock_sha256]
    assert "1 evicted; 1 kept" in out.getvalue() and "1 environment(s) in use" in out.getvalue()
    assert not (cache.envs / ".build-0123-cpython-311-dead").exists()
    assert list(EnvironmentCopy.objects.values_list("lock_sha256", flat=True)) == kept


def test_a_worker_records_which_cache_holds_an_environment_and_forgets_it_on_eviction(
    make_job, offline_packages
):
    job = make_job(pep723("tinypkg", body=VERSION), slug="held")
    ran = execution.execute(dispatch.trigger(job, trigger="cli", send=False).pk)
    cache = environments.worker_cache()
    (copy,) = EnvironmentCopy.objects.all()
    assert copy.lock_sha256 == ran.script_version.lock_sha256
    assert copy.cache_id == records.cache_id(cache.root) and copy.build_seconds > 0
    assert copy.size_bytes == cache.entries()[0].size_bytes > 0

    EnvironmentCopy.objects.all().delete()  # e.g. the database was restored
    assert records.reconcile(
        cache.root, {e.lock_sha256: e.size_bytes for e in cache.entries()}
    ) == (1, 0)
    cache.prune(everything=True)
    assert not EnvironmentCopy.objects.exists()


def test_each_cache_directory_has_an_id_of_its_own(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert records.cache_id(first) == records.cache_id(first) != records.cache_id(second)


def test_a_script_that_declares_no_package_gets_an_empty_environment(offline_packages):
    lock = locking.lock_script(pep723().encode())
    assert locking.pinned_packages(lock.text) == [] and lock.text.startswith("# parseq lock 1")
    use = environments.worker_cache().acquire(lock.text, lock.sha256)
    try:
        probe = "import sys; print(sys.prefix); import tinypkg"
        done = subprocess.run([use.python, "-c", probe], capture_output=True, text=True)
        assert done.stdout.strip() == str(use.path)
        assert "No module named 'tinypkg'" in done.stderr
    finally:
        use.release()
