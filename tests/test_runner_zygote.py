"""The fork server starts scripts with the same isolation as a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from scripts_app.models import Status
from scripts_app.runs import dispatch, logs
from scripts_app.worker import execution
from scripts_app.worker.runner import process, zygote
from scripts_app.worker.runner.workspace import clean_env, workspace
from tests.runner_helpers import ROOT, gone_soon, run_source


def run_forked(tmp_path, source: str, *, timeout: float = 20, run_vars: dict | None = None):
    """Run ``source`` through the fork server: (outcome, log, result, workspace root)."""
    outcome, ws, log = run_source(
        tmp_path, source, timeout=timeout, grace=0.5, run_vars=run_vars, fork_server=True
    )
    return outcome, log, outcome.extra["result"], str(ws.root)


def test_a_forked_script_has_its_own_session_workdir_and_only_its_environment(tmp_path):
    os.environ["PARSEQ_TEST_WORKER_SECRET"] = "do-not-leak"
    try:
        outcome, _log, result, root = run_forked(
            tmp_path,
            """
            import os, sys
            def main(data):
                return {
                    "leader": os.getpgid(0) == os.getpid() == os.getsid(0),
                    "env": sorted(os.environ),
                    "cwd": os.getcwd(),
                    "stdin": sys.stdin.read(),
                }
            """,
            run_vars={"PARSEQ_RUN_ID": "7"},
        )
    finally:
        del os.environ["PARSEQ_TEST_WORKER_SECRET"]
    assert outcome.exit_code == 0
    assert result["leader"] is True
    assert result["cwd"] == root
    assert result["stdin"] == ""
    assert "PARSEQ_RUN_ID" in result["env"]
    assert not {"SECRET_KEY", "DATABASE_URL", "PARSEQ_TEST_WORKER_SECRET"} & set(result["env"])


def test_a_forked_script_logs_output_and_reports_exit_codes_and_errors(tmp_path):
    outcome, log, _result, _root = run_forked(
        tmp_path,
        """
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        sys.exit(3)
        """,
    )
    assert outcome.exit_code == 3
    assert b"to stdout" in log and b"to stderr" in log

    outcome, log, _result, _root = run_forked(tmp_path, "raise ValueError('boom')\n")
    assert outcome.exit_code == 1
    assert b"ValueError: boom" in log


def test_a_forked_script_gets_its_rlimits(tmp_path):
    outcome, _log, result, _root = run_forked(
        tmp_path,
        """
        import resource
        def main(data):
            return {"as": resource.getrlimit(resource.RLIMIT_AS)[0]}
        """,
        run_vars={"PARSEQ_LIMIT_MEMORY_BYTES": str(512 * 1024 * 1024)},
    )
    assert outcome.exit_code == 0
    assert result == {"as": 512 * 1024 * 1024}


def test_a_timeout_kills_the_forked_script_and_its_children(tmp_path):
    marker = tmp_path / "child.pid"
    outcome, _log, _result, _root = run_forked(
        tmp_path,
        f"""
        import subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        open({str(marker)!r}, "w").write(str(child.pid))
        time.sleep(60)
        """,
        timeout=1,
    )
    assert outcome.timed_out
    assert gone_soon([int(marker.read_text())])


def test_a_run_that_changes_interpreter_start_up_is_spawned_not_forked():
    base = {"PATH": "/usr/bin", "PYTHONPATH": "/srv/app", "PYTHONUNBUFFERED": "1"}
    server = zygote.Zygote(base)
    assert server.accepts({**base, "PARSEQ_RUN_ID": "1"})
    assert not server.accepts({**base, "PYTHONPATH": "/elsewhere"})
    assert not server.accepts({**base, "PYTHONHASHSEED": "0"})


def test_the_fork_server_answers_json_requests_only_with_two_descriptors(tmp_path):
    # A malformed request (no descriptors) is refused (no pid, so the worker spawns the
    # run itself) without killing the server.
    server = zygote.for_env(clean_env_for(tmp_path))
    path = server._ensure()
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(path)
    conn.send(json.dumps({"script": "x", "cwd": "/", "env": {}}).encode())
    assert not conn.recv(64).startswith(b"pid ")
    conn.close()
    outcome, _log, result, _root = run_forked(tmp_path, "def main(d):\n    return 1\n")
    assert (outcome.exit_code, result) == (0, 1)


def clean_env_for(tmp_path):
    with workspace(tmp_path, prefix="e-") as ws:
        return clean_env(ws, {})


def test_a_worker_starts_its_scripts_from_its_fork_server(make_job, worker, unsandboxed):
    from scripts_app.models import Trigger
    from scripts_app.runs import dispatch, waiting

    job = make_job("import os\n\ndef main(data):\n    return {'parent': os.getppid()}\n", "parent")
    execution = waiting.wait_for(dispatch.trigger(job, trigger=Trigger.API), 30)

    assert execution.status == "succeeded", execution.error
    assert zygote.enabled()
    forked_from = {server.process.pid for server in zygote.SERVERS.values()}
    assert execution.result["parent"] in forked_from
    assert execution.result["parent"] != os.getpid()


def test_a_fork_server_that_errors_falls_back_to_a_new_interpreter(tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("fork server exploded")

    monkeypatch.setattr(zygote.Zygote, "_ensure", broken)
    outcome, _log, result, _root = run_forked(tmp_path, "def main(data):\n    return 'ok'\n")
    assert (outcome.exit_code, result) == (0, "ok")


def test_the_fork_server_imports_nothing_that_hooks_fork():
    # threading and random run after-fork hooks in every child: ~0.5 ms of CPU per run.
    probe = (
        "import sys\n"
        "sys.argv = ['zygote', 'unused']\n"
        "import atexit\n"
        "from scripts_app import bootstrap, hardening, runtime\n"
        "from scripts_app.worker.runner import forkserver, zygote\n"
        "print(sorted({'threading', 'random', 'logging'} & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


ESCAPE = """
import subprocess, sys
subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(1)"],
    start_new_session=True,  # out of the run's group: a group kill does not reach it
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
"""


def test_the_fork_server_vouches_only_for_runs_that_left_no_process(tmp_path):
    clean = run_forked(tmp_path, "print('done')\n")[0]
    assert clean.exit_code == 0 and clean.left_nothing
    escaped = run_forked(tmp_path, ESCAPE)[0]
    assert escaped.exit_code == 0 and not escaped.left_nothing
    # The escaped process, adopted by the fork server, is reaped once it ends.
    deadline = time.monotonic() + 10
    while not run_forked(tmp_path, "pass\n")[0].left_nothing:
        assert time.monotonic() < deadline, "the adopted orphan was never reaped"
        time.sleep(0.2)


def test_a_spawned_run_is_never_vouched_for(tmp_path):
    outcome, _, _ = run_source(tmp_path, "print('done')\n")
    assert outcome.exit_code == 0 and not outcome.left_nothing


def test_no_signal_reaches_a_forked_runs_group_after_the_server_reported_its_exit(
    tmp_path, monkeypatch
):
    # The server killed the group while the script was an unreaped zombie; by the time
    # the worker hears "exit", the number may belong to another run's new group.
    sent = []
    monkeypatch.setattr(process, "kill_group", lambda pgid, sig: sent.append((pgid, sig)))
    outcome = run_forked(tmp_path, "print('done')\n")[0]
    assert outcome.exit_code == 0 and sent == []


def test_a_run_never_sees_files_from_a_process_an_earlier_run_left_behind(make_job):
    escaper = make_job(
        ESCAPE.replace("time.sleep(1)", "time.sleep(0.5); open('outputs/late', 'w')"),
        slug="escaper",
    )
    sleeper = make_job(
        "import os, time\ntime.sleep(1.5)\nprint(sorted(os.listdir('outputs')))\n", slug="sleeper"
    )
    zygote.enable()
    try:
        runs = [
            execution.execute(dispatch.trigger(job, trigger="cli", send=False).pk)
            for job in (escaper, sleeper)
        ]
    finally:
        zygote.disable()
    assert [run.status for run in runs] == [Status.SUCCEEDED, Status.SUCCEEDED]
    # Had the escaper's workspace been reused, its leftover process would have written
    # into the sleeper's outputs/ while the sleeper ran.
    assert logs.read_log(runs[1])[0] == b"[]\n"


STDIO = """
import sys
streams = []
for s in (sys.stdin, sys.stdout, sys.stderr):
    streams.append([
        type(s.buffer).__name__, s.name, s.mode, s.encoding, s.errors, s.line_buffering,
        s.write_through, s.seekable(), s.isatty(), s is getattr(sys, "__" + s.name[1:-1] + "__"),
    ])
print(repr(streams))
"""


def test_a_forked_script_gets_the_stdio_streams_a_spawned_one_gets(tmp_path):
    forked = run_forked(tmp_path, STDIO)[1]
    spawned = run_source(tmp_path, STDIO)[2]
    assert forked == spawned and b"<stdout>" in forked
