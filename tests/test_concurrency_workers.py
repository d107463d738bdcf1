"""The global cap holds across worker processes: three real workers (separate
`manage.py rundramatiq` processes on the test PostgreSQL) with PARSEQ_MAX_RUNNING=2
never have three runs going at once, and every run finishes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch

ROOT = Path(__file__).resolve().parent.parent
READY = "Worker process is ready for action"


@pytest.fixture
def start_workers(database_url, settings, tmp_path):
    procs: list[tuple[subprocess.Popen, Path]] = []

    def start(count: int, **env_vars: str) -> list[Path]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "PARSEQ_", "DATABASE_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="parseq.settings",
            DATABASE_URL=database_url,
            DATABASE_CONN_MAX_AGE="0",
            SECRET_KEY="workers-test-key",
            DEBUG="0",
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            PARSEQ_DATA_DIR=str(tmp_path / "data"),
            PARSEQ_WORK_DIR=str(settings.PARSEQ_WORK_DIR),
            PARSEQ_HEARTBEAT_SECONDS="1",
            PARSEQ_SHUTDOWN_GRACE="1",
            **env_vars,
        )
        logs = []
        for n in range(count):
            log = tmp_path / f"worker-{n}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "manage.py",
                        "rundramatiq",
                        "--processes",
                        "1",
                        "--threads",
                        "2",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: the fixture stops it whole
                )
            procs.append((proc, log))
            logs.append(log)
        deadline = time.monotonic() + 90
        while not all(READY in log.read_text(errors="replace") for log in logs):
            for proc, log in procs:
                assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "workers did not start in 90 s"
            time.sleep(0.2)
        return logs

    yield start
    for proc, _log in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _log in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_three_workers_with_a_cap_of_two_never_run_three(make_job, start_workers):
    logs = start_workers(3, PARSEQ_MAX_RUNNING="2")
    job = make_job("import time\ndef main(data):\n    time.sleep(0.7)\n    return data\n")
    runs = [
        dispatch.trigger(job, params={"n": n}, trigger=Trigger.API, send=False) for n in range(10)
    ]
    most = 0
    deadline = time.monotonic() + 120
    while Execution.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists():
        most = max(most, Execution.objects.filter(status=Status.RUNNING).count())
        assert most <= 2, "three runs were running at once"
        assert time.monotonic() < deadline, [log.read_text(errors="replace") for log in logs]
        time.sleep(0.02)
    done = Execution.objects.filter(pk__in=[r.pk for r in runs])
    assert sorted(done.values_list("status", flat=True)) == [Status.SUCCEEDED] * 10
    assert most == 2
    # Which worker wins each claim is up to the race (on a loaded machine one may win
    # them all); what matters is that all three competed and the cap held throughout.
