"""``manage.py runscheduler`` as real processes against the test PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from scripts_app import schedule
from scripts_app.models import Execution, Job, Status

MANAGE = os.path.join(settings.BASE_DIR, "manage.py")


def start_scheduler(database_url: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": "test-secret-key-that-scripts-must-never-see",
        "LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, MANAGE, "runscheduler", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.slow
def test_two_scheduler_processes_fire_every_slot_once_and_stop_on_sigterm(database_url, make_job):
    start = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
    jobs = [
        make_job(
            slug=f"tick{i}",
            start_at=start,
            repeat_every=timedelta(seconds=1),
            overlap_policy="allow",
        )
        for i in range(4)
    ]
    procs = [start_scheduler(database_url, "--poll", "0.2") for _ in range(2)]
    try:
        assert wait_for(lambda: Execution.objects.count() >= 4 * 4, timeout=20)
    finally:
        logs = [stop(proc) for proc in procs]
    for log in logs:
        assert "scheduler stopped" in log
    for job in jobs:
        slots = list(
            job.executions.order_by("scheduled_for").values_list("scheduled_for", flat=True)
        )
        assert slots == [start + timedelta(seconds=k) for k in range(len(slots))]
        assert len(slots) >= 4
        job.refresh_from_db()
        assert job.next_run_at == slots[-1] + timedelta(seconds=1)
    assert not Execution.objects.exclude(status=Status.QUEUED).exists()


@pytest.mark.slow
def test_it_notices_an_admin_edit_within_about_a_second(database_url, make_job):
    job = make_job(slug="later", cron="0 0 1 1 *")
    proc = start_scheduler(database_url)  # default poll: 1 s
    try:
        time.sleep(2)  # asleep: the only job is months away
        job.cron = ""
        job.start_at = timezone.now() + timedelta(seconds=0.5)
        job.save()
        edited = time.monotonic()
        assert wait_for(lambda: job.executions.exists(), timeout=10)
        assert time.monotonic() - edited < 2.5
    finally:
        stop(proc)


def test_once_runs_a_single_tick(make_job, capsys):
    job = make_job(slug="due", cron="* * * * *")
    # This minute's slot: due now, and the next one is still ahead (now - 5 s could
    # fall in the previous minute, making two slots due).
    this_minute = timezone.now().replace(second=0, microsecond=0)
    Job.objects.filter(pk=job.pk).update(next_run_at=this_minute)
    call_command("runscheduler", "--once")
    assert "fired 1 job(s): 1 run(s), 0 skipped" in capsys.readouterr().out
    assert job.executions.get().status == Status.QUEUED
    job.refresh_from_db()
    assert job.next_run_at == schedule.next_fire(job, job.executions.get().scheduled_for)
