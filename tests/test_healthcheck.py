"""``manage.py healthcheck --worker|--scheduler``: exit 0 only while that process on this
host beats its heartbeat (a file in the data dir; no database needed)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from scripts_app.models_operations import ProcessHeartbeat
from scripts_app.observability import heartbeat
from tests.deploy_helpers import ROOT
from tests.integration.stack import wait_until
from tests.services import server_env


@pytest.fixture(autouse=True)
def _own_heartbeat_dir(settings, tmp_path):
    settings.PARSEQ_HEARTBEAT_DIR = tmp_path / "heartbeats"


def healthy(process: str, *args: str) -> bool:
    try:
        call_command("healthcheck", f"--{process}", *args, stdout=io.StringIO())
    except CommandError:
        return False
    return True


def test_a_running_worker_beats_and_a_stopped_one_does_not(worker, settings):
    assert wait_until(lambda: healthy("worker"), 10, "the worker's first beat")
    assert not healthy("scheduler")  # no scheduler runs here
    beat = settings.PARSEQ_HEARTBEAT_DIR / f"worker-{heartbeat.host()}-{os.getpid()}"
    assert beat.read_text().split()[0] == str(os.getpid())
    assert wait_until(lambda: ProcessHeartbeat.objects.filter(process="worker").exists(), 10, "row")
    worker.stop()
    assert not beat.exists() and not healthy("worker")
    assert not ProcessHeartbeat.objects.filter(pid=os.getpid()).exists()


def test_a_live_process_that_stopped_beating_is_unhealthy(db):
    beat = heartbeat.Beat("worker")
    beat.beat()
    assert healthy("worker")
    old = time.time() - 300
    os.utime(beat.path, (old, old))
    with pytest.raises(CommandError, match=rf"pid {os.getpid()} last beat 30\d s ago"):
        call_command("healthcheck", "--worker", stdout=io.StringIO())
    assert healthy("worker", "--max-age", "600")


def test_files_of_other_hosts_and_of_dead_processes_do_not_count(settings, db):
    folder = settings.PARSEQ_HEARTBEAT_DIR
    folder.mkdir(parents=True)
    other = folder / f"worker-another-host-{os.getpid()}"
    other.write_text(f"{os.getpid()} {heartbeat.start_time(os.getpid())}\n")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that is gone
    dead = folder / f"worker-{heartbeat.host()}-{child.pid}"
    dead.write_text(f"{child.pid} 12345\n")
    assert not healthy("worker")
    assert other.exists() and not dead.exists()  # a dead process's file is cleared


def test_a_running_scheduler_is_healthy_and_a_stopped_one_is_not(database_url, tmp_path):
    env = server_env(
        DJANGO_SETTINGS_MODULE="parseq.settings",
        SECRET_KEY="healthcheck-test",
        DATABASE_URL=database_url,
        PARSEQ_DATA_DIR=str(tmp_path),
    )

    def check() -> subprocess.CompletedProcess:
        argv = [sys.executable, "manage.py", "healthcheck", "--scheduler", "--max-age", "5"]
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)

    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "runscheduler", "--poll", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: check().returncode == 0, 30, "the scheduler to beat")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=30)
    stopped = check()
    assert stopped.returncode == 1
    assert "no scheduler process on" in stopped.stderr
