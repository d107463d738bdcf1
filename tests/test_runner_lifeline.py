"""A script's whole process group dies with its worker (and with its fork server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from scripts_app.runner import forkservers
from scripts_app.runner.workspace import clean_env, workspace
from tests.runner_helpers import ROOT, gone_soon, run_source, start_worker, wait_for_pids

# The script and a child of it (same process group, no lifeline of its own), both
# sleeping until something kills them.
SCRIPT_WITH_A_CHILD = """
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "60"])
    open({marker!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
    time.sleep(60)
"""


@pytest.mark.parametrize("fork_server", [False, True], ids=["spawned", "forked"])
def test_a_script_and_its_children_die_when_the_worker_is_sigkilled(tmp_path, fork_server):
    marker = tmp_path / "pids"
    worker = start_worker(
        tmp_path, SCRIPT_WITH_A_CHILD.format(marker=str(marker)), fork_server=fork_server
    )
    pids = wait_for_pids(marker, 2)

    os.killpg(worker.pid, signal.SIGKILL)  # the script has a session of its own
    worker.wait()

    assert gone_soon(pids), "a process of the run outlived its worker"


@pytest.mark.parametrize("fork_server", [False, True], ids=["spawned", "forked"])
def test_a_script_runs_with_no_thread_but_its_own(tmp_path, fork_server):
    outcome, _ws, _log = run_source(
        tmp_path,
        "import threading\ndef main(data):\n    return threading.active_count()\n",
        fork_server=fork_server,
    )
    assert (outcome.exit_code, outcome.extra["result"]) == (0, 1)


def test_a_forked_script_and_its_children_die_when_the_fork_server_dies(tmp_path):
    marker = tmp_path / "pids"
    with workspace(tmp_path, prefix="e-") as ws:
        server = forkservers.for_env(clean_env(ws, {}))
    server._ensure()
    outcomes = []
    run = threading.Thread(
        target=lambda: outcomes.append(
            run_source(tmp_path, SCRIPT_WITH_A_CHILD.format(marker=str(marker)), fork_server=True)
        )
    )
    run.start()
    try:
        pids = wait_for_pids(marker, 2)
        os.kill(server.process.pid, signal.SIGKILL)
        run.join(10)
        assert not run.is_alive(), "the run did not end with its fork server"
    finally:
        server.stop()
    outcome, _ws, _log = outcomes[0]
    assert outcome.exit_code == -signal.SIGKILL
    assert gone_soon(pids)


def test_a_script_whose_worker_is_already_gone_is_killed_at_once():
    # The worker died before the script set up its lifeline: no signal will come, so
    # the script must notice for itself.
    probe = (
        "import os, sys\n"
        "from scripts_app import bootstrap\n"
        "read_end, write_end = os.pipe()\n"
        "os.close(write_end)\n"
        "bootstrap.die_with_worker(read_end)\n"
        "print('survived')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        start_new_session=True,  # its own group: the one it kills
        timeout=30,
    )
    assert done.returncode == -signal.SIGKILL
    assert "survived" not in done.stdout
