"""Issue 15 on the production path (PostgreSQL, RabbitMQ, S3, ``rundramatiq``): the hostile
script of tests/sandbox_helpers.py on a sandboxed worker (PARSEQ_SANDBOX=bwrap, scripts as
nobody) is denied everything; on the stack's unsandboxed worker the same attacks succeed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.stack import ROOT, unique_slug
from tests.sandbox_helpers import HOSTILE, pids_with, wait_for, workspace_holding
from tests.services import need

pytestmark = pytest.mark.slow
QUEUE = "sandboxed"


@pytest.fixture(scope="module")
def sandboxed_worker(stack):
    need("bwrap", "the sandbox (bubblewrap) is what these tests are about")
    worker = stack.new_worker(
        "sandboxed", "--queues", QUEUE, PARSEQ_SANDBOX="bwrap", PARSEQ_SCRIPT_USER="nobody"
    )
    yield worker
    worker.stop()


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def side(request, stack):
    """(sandboxed?, the worker's data dir, its queue, its pid)."""
    if request.param == "sandboxed":
        worker = request.getfixturevalue("sandboxed_worker")
        sandboxed, data, queue, pid = True, stack.base / "sandboxed", QUEUE, worker.pid
    else:
        sandboxed, data, queue, pid = False, stack.base / "worker", "default", stack.worker.pid
    data.mkdir(parents=True, exist_ok=True)
    return sandboxed, data, queue, pid


def attack(api, queue: str, params: dict, **fields) -> dict:
    slug = unique_slug("hostile")
    api.create_job(slug, HOSTILE, queue=queue, **fields)
    run = api.wait_final(api.trigger(slug, params)["id"], timeout=60)
    assert run["status"] == "succeeded", run
    log = api.get(f"/api/v1/executions/{run['id']}/log/", headers={"Accept": "text/plain"})
    return {"result": run["result"], "seen": str(run["result"]) + log.text}


def test_it_cannot_read_the_database_file_or_its_tokens(api, side):
    sandboxed, data, queue, _ = side
    database = data / "db.sqlite3"  # where make run keeps it: beside runs/ in the data dir
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE IF NOT EXISTS authtoken_token (key TEXT)")
        db.execute("INSERT INTO authtoken_token VALUES (?)", (api.token,))
    got = attack(api, queue, {"attack": "read", "path": str(database)})
    if sandboxed:
        assert "No such file or directory" in got["result"]["denied"]
        assert api.token not in got["seen"]
    else:
        assert api.token in got["result"]["got"]


@pytest.mark.parametrize("name", ["parseq/settings.py", "manage.py"])
def test_it_cannot_read_the_code_or_the_settings(api, side, name):
    sandboxed, _, queue, _ = side
    got = attack(api, queue, {"attack": "read", "path": str(ROOT / name)})
    if sandboxed:
        assert "No such file or directory" in got["result"]["denied"]
    else:
        assert got["result"]["got"] == (ROOT / name).read_text()


def test_it_cannot_read_the_spool_or_write_outside_its_workspace(api, side):
    sandboxed, data, queue, _ = side
    kept = data / "spool" / "7" / "log.txt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("a spooled log")
    outside = data / f"pwned-{uuid.uuid4().hex}.txt"
    read = attack(api, queue, {"attack": "read", "path": str(kept)})
    wrote = attack(api, queue, {"attack": "write", "path": str(outside)})
    if sandboxed:
        assert "denied" in read["result"] and "a spooled log" not in read["seen"]
        assert "denied" in wrote["result"] and not outside.exists()
    else:
        assert read["result"]["got"] == "a spooled log"
        assert outside.read_text() == "pwned"


def test_it_cannot_read_another_running_jobs_workspace(api, side):
    sandboxed, data, queue, _ = side
    secret = f"victim-{uuid.uuid4().hex}"
    victim = unique_slug("victim")
    api.create_job(victim, HOSTILE, queue=queue)
    started = api.trigger(victim, {"attack": "victim", "secret": secret})
    loot = wait_for(lambda: workspace_holding(data / "runs", "loot.txt"), seconds=30)
    try:
        got = attack(api, queue, {"attack": "read", "path": str(loot)})
    finally:
        (loot.parent / "stop").touch()
    assert api.wait_final(started["id"], timeout=60)["status"] == "succeeded"
    if sandboxed:
        assert "denied" in got["result"] and secret not in got["seen"]
    else:
        assert got["result"]["got"] == secret


def test_it_cannot_see_the_worker_or_the_machines_processes(api, side, stack):
    sandboxed, _, queue, worker_pid = side
    marker = f"parseq-host-{uuid.uuid4().hex}"
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        seen = attack(api, queue, {"attack": "processes", "marker": marker})
        environ = attack(api, queue, {"attack": "read", "path": f"/proc/{worker_pid}/environ"})
        cmdline = attack(api, queue, {"attack": "read", "path": f"/proc/{worker_pid}/cmdline"})
    finally:
        host.kill()
        host.wait()
    assert "denied" in environ["result"]  # never: its processes are non-dumpable
    assert stack.env["SECRET_KEY"] not in environ["seen"] + seen["seen"] + cmdline["seen"]
    if sandboxed:
        assert seen["result"] == {"denied": "no such process in view"}
        assert "No such file or directory" in cmdline["result"]["denied"]
    else:
        assert seen["result"] == {"got": [str(host.pid)]}
        assert "dramatiq" in cmdline["result"]["got"]


def test_with_network_off_it_cannot_reach_the_database(api, side, stack):
    sandboxed, _, queue, _ = side
    port = stack.postgres.port
    off = attack(api, queue, {"attack": "connect", "port": port}, network="off")
    on = attack(api, queue, {"attack": "connect", "port": port}, network="on")
    assert on["result"] == {"got": "connected"}
    if sandboxed:
        assert "denied" in off["result"]
    else:
        assert off["result"] == {"got": "connected"}


def test_a_setsid_double_fork_is_killed_at_the_runs_end(api, side):
    sandboxed, _, queue, _ = side
    marker = f"parseq-escapee-{uuid.uuid4().hex}"
    got = attack(api, queue, {"attack": "escape", "marker": marker})
    assert got["result"] == {"got": "forked"}
    try:
        if sandboxed:
            wait_for(lambda: not pids_with(marker), seconds=5)
        else:
            assert pids_with(marker)
    finally:
        for pid in pids_with(marker):
            os.kill(pid, signal.SIGKILL)


def test_the_sandboxed_worker_says_so_on_its_heartbeat(stack, sandboxed_worker):
    probe = (
        "from scripts_app.models_operations import ProcessHeartbeat as H;"
        "print(sorted(set(H.objects.filter(process='worker').values_list('sandboxed', flat=True))"
        ", key=str))"
    )
    seen = wait_for(lambda: "True" in stack.manage("shell", "-c", probe), seconds=40)
    assert seen
    assert Path(stack.base / "sandboxed").is_dir()
