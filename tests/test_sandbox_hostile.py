"""Issue 15: a hostile uploaded script, on the embedded defaults' in-process path, spawned
and forked from the fork server. With the sandbox each attack is denied (or its process
killed) and nothing of the server's reaches its log or result; the same attack with the
sandbox off succeeds, so each test would fail without the sandbox."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework.authtoken.models import Token

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch, logs
from scripts_app.worker import execution
from scripts_app.worker.runner import zygote
from tests.sandbox_helpers import HOSTILE, pids_with, wait_for, workspace_holding
from tests.services import need

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def sandbox(request, settings) -> bool:
    if request.param == "sandboxed":
        need("bwrap", "the sandbox (bubblewrap) is what these tests are about")
        settings.PARSEQ_SANDBOX = "bwrap"
    else:  # as before issue 15, as this process's user (root here): the attacks work
        settings.PARSEQ_SANDBOX = "off"
        settings.PARSEQ_SCRIPT_USER = "root"
    return request.param == "sandboxed"


@pytest.fixture(params=["spawned", "forked"], autouse=True)
def start(request):
    if request.param == "forked":
        zygote.enable()
    yield request.param
    zygote.disable()


def attack(make_job, params: dict, **job_fields) -> Execution:
    job = make_job(HOSTILE, slug=f"hostile-{uuid.uuid4().hex[:8]}", **job_fields)
    run = execution.execute(
        dispatch.trigger(job, params=params, trigger=Trigger.CLI, send=False).pk
    )
    assert run.status == Status.SUCCEEDED, run.error
    return run


def leaked(run: Execution, *secrets: str) -> list[str]:
    """The secrets found in the run's result or log."""
    log = logs.read_log(run)[0].decode(errors="replace") if run.log else ""
    seen = json.dumps(run.result) + log
    return [secret for secret in secrets if secret in seen]


def test_it_cannot_read_the_database_file_or_the_tokens_in_it(make_job, alice, sandbox):
    # make run's var/db.sqlite3 sits beside var/runs/, the workspaces' directory.
    token = Token.objects.create(user=alice).key
    database = Path(django_settings.PARSEQ_WORK_DIR).parent / "db.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE authtoken_token (key TEXT, user_id INTEGER)")
        db.execute("INSERT INTO authtoken_token VALUES (?, ?)", (token, alice.pk))
    run = attack(make_job, {"attack": "read", "path": str(database)})
    if sandbox:
        assert "No such file or directory" in run.result["denied"]
        assert leaked(run, token) == []
    else:
        assert token in run.result["got"]


@pytest.mark.parametrize("name", ["parseq/settings.py", "manage.py"])
def test_it_cannot_read_the_projects_code_or_settings(make_job, sandbox, name):
    path = ROOT / name
    run = attack(make_job, {"attack": "read", "path": str(path)})
    if sandbox:
        assert "No such file or directory" in run.result["denied"]
        assert leaked(run, path.read_text()[:200]) == []
    else:
        assert run.result["got"] == path.read_text()


def test_it_cannot_read_another_running_jobs_workspace(transactional_db, make_job, sandbox):
    secret = f"victim-secret-{uuid.uuid4().hex}"
    victim = make_job(HOSTILE, slug="victim")
    pk = dispatch.trigger(victim, params={"attack": "victim", "secret": secret},
                          trigger=Trigger.CLI, send=False).pk  # fmt: skip
    running = threading.Thread(target=execution.execute, args=(pk,))
    running.start()
    loot = None
    try:
        loot = wait_for(lambda: workspace_holding(django_settings.PARSEQ_WORK_DIR, "loot.txt"))
        run = attack(make_job, {"attack": "read", "path": str(loot)})
    finally:
        if loot is not None:
            (loot.parent / "stop").touch()
        running.join(60)
    assert Execution.objects.get(pk=pk).status == Status.SUCCEEDED
    if sandbox:
        assert "No such file or directory" in run.result["denied"]
        assert leaked(run, secret) == []
    else:
        assert run.result["got"] == secret


def test_it_cannot_read_the_spool(make_job, settings, sandbox):
    settings.PARSEQ_SPOOL_DIR = Path(settings.PARSEQ_WORK_DIR).parent / "spool"
    kept = settings.PARSEQ_SPOOL_DIR / "41" / "log.txt"
    kept.parent.mkdir(parents=True)
    kept.write_text("another run's log, kept while storage was down")
    run = attack(make_job, {"attack": "read", "path": str(kept)})
    if sandbox:
        assert "No such file or directory" in run.result["denied"]
        assert leaked(run, "another run's log") == []
    else:
        assert "another run's log" in run.result["got"]


def test_it_cannot_read_the_workers_environment_or_see_its_process(make_job, sandbox):
    worker = os.getpid()
    environ = attack(make_job, {"attack": "read", "path": f"/proc/{worker}/environ"})
    cmdline = attack(make_job, {"attack": "read", "path": f"/proc/{worker}/cmdline"})
    # Never readable (non-dumpable processes, invariant 5); sandboxed, not even there.
    assert "denied" in environ.result
    assert leaked(environ, django_settings.SECRET_KEY) == []
    if sandbox:
        assert "No such file or directory" in environ.result["denied"]
        assert "No such file or directory" in cmdline.result["denied"]
    else:
        assert "pytest" in cmdline.result["got"]


def test_it_cannot_list_the_machines_processes(make_job, sandbox):
    marker = f"parseq-host-process-{uuid.uuid4().hex}"
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        run = attack(make_job, {"attack": "processes", "marker": marker})
    finally:
        host.kill()
        host.wait()
    if sandbox:
        assert run.result == {"denied": "no such process in view"}
    else:
        assert run.result == {"got": [str(host.pid)]}


def test_it_cannot_write_outside_its_workspace(make_job, sandbox):
    outside = Path(django_settings.PARSEQ_WORK_DIR).parent / "pwned.txt"
    run = attack(make_job, {"attack": "write", "path": str(outside)})
    if sandbox:
        assert "denied" in run.result
        assert not outside.exists()
    else:
        assert outside.read_text() == "pwned"


def test_with_network_off_it_cannot_reach_the_database_port(make_job, sandbox):
    port = django_settings.DATABASES["default"].get("PORT") or 5432
    run = attack(make_job, {"attack": "connect", "port": port}, network="off")
    if sandbox:  # an empty network namespace: nothing listens, nothing routes out
        assert run.result["denied"].startswith(("ConnectionRefusedError", "OSError: [Errno 101]"))
    else:  # network=off needs the sandbox
        assert run.result == {"got": "connected"}


def test_with_network_on_it_reaches_the_network(make_job, sandbox):
    port = django_settings.DATABASES["default"].get("PORT") or 5432
    run = attack(make_job, {"attack": "connect", "port": port}, network="on")
    assert run.result == {"got": "connected"}


def test_a_setsid_double_fork_does_not_outlive_the_run(make_job, sandbox):
    marker = f"parseq-escapee-{uuid.uuid4().hex}"
    run = attack(make_job, {"attack": "escape", "marker": marker})
    assert run.result == {"got": "forked"}
    try:
        if sandbox:  # the run's PID namespace ended with it
            wait_for(lambda: not pids_with(marker), seconds=5)
        else:
            assert pids_with(marker)
    finally:
        for pid in pids_with(marker):
            os.kill(pid, signal.SIGKILL)
