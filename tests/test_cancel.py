"""Cancel: a queued run is cancelled at once; a running one is stopped — SIGTERM,
grace, SIGKILL to its whole process group — and is cancelled within grace + 5 s."""

import json
import time
from pathlib import Path

import pytest

from scripts_app.errors import NotCancellable
from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import control, dispatch
from scripts_app.worker import execution


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_finished_run_cannot_be_cancelled(make_job):
    run = execution.execute(dispatch.trigger(make_job(), trigger=Trigger.CLI, send=False).pk)
    with pytest.raises(NotCancellable):
        control.cancel(run)
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED


def test_a_queued_run_is_cancelled_at_once_and_never_starts(make_job):
    run = dispatch.trigger(make_job(), trigger=Trigger.API, send=False)
    control.cancel(run)
    assert run.status == Status.CANCELLED
    assert run.finished_at is not None
    assert execution.execute(run.pk) is None
    run.refresh_from_db()
    assert run.status == Status.CANCELLED


def test_cancelling_twice_is_harmless(make_job):
    run = dispatch.trigger(make_job(), trigger=Trigger.API, send=False)
    control.cancel(run)
    with pytest.raises(NotCancellable):
        control.cancel(run)


STUBBORN = """
import json, os, signal, subprocess, sys, time
from pathlib import Path

def main(data):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    Path(data["pids"]).write_text(json.dumps([os.getpid(), child.pid]))
    time.sleep(600)
"""


def test_a_running_run_that_ignores_sigterm_is_killed_with_its_children(
    make_job, worker, tmp_path, settings, unsandboxed
):
    pids_file = tmp_path / "pids.json"
    job = make_job(STUBBORN, timeout=600)
    run = dispatch.trigger(job, params={"pids": str(pids_file)}, trigger=Trigger.API)
    deadline = time.monotonic() + 20
    while not pids_file.exists() or not pids_file.read_text():
        assert time.monotonic() < deadline, "the script did not start"
        time.sleep(0.05)
    pids = json.loads(pids_file.read_text())
    assert all(alive(pid) for pid in pids)
    assert Execution.objects.get(pk=run.pk).status == Status.RUNNING

    asked = time.monotonic()
    control.cancel(run)
    limit = settings.PARSEQ_KILL_GRACE + 5
    while Execution.objects.get(pk=run.pk).status == Status.RUNNING:
        assert time.monotonic() - asked < limit, f"still running {limit} s after cancel"
        time.sleep(0.05)
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.error == "cancelled by request"
    deadline = time.monotonic() + 2
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids), "a process of the run outlived it"
