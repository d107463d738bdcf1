"""The subprocess supervisor: log capping, timeouts and killing whole process groups."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from scripts_app.worker.runner import process
from scripts_app.worker.runner.process import TRUNCATION_MARKER
from tests.runner_helpers import run_source


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(")")[-1].split()[0] != "Z"


def test_it_streams_stdout_and_stderr_into_one_log(tmp_path):
    outcome, _, log = run_source(
        tmp_path, "import sys\nprint('out line')\nprint('err line', file=sys.stderr)\n"
    )
    assert outcome.exit_code == 0
    assert b"out line" in log and b"err line" in log


def test_it_caps_the_log_and_marks_the_truncation(tmp_path):
    outcome, _, log = run_source(
        tmp_path,
        "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 1000 + '\\n')\n",
        log_limit=10_000,
    )
    assert outcome.exit_code == 0
    assert outcome.log_truncated
    assert log.startswith(b"x" * 1000)
    assert log.endswith(TRUNCATION_MARKER.format(limit=10_000).encode())
    assert len(log) < 10_000 + 200
    assert outcome.discarded_bytes > 900_000


def test_it_kills_the_whole_process_group_on_timeout(tmp_path):
    # The script ignores SIGTERM and starts a child that ignores it too.
    pid_file = tmp_path / "pids"
    source = f"""
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
        open({str(pid_file)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        print("started", flush=True)
        time.sleep(600)
    """
    started = time.monotonic()
    outcome, _, log = run_source(tmp_path, source, timeout=1.5, grace=0.5)
    elapsed = time.monotonic() - started
    assert outcome.timed_out
    assert outcome.exit_code == -signal.SIGKILL
    assert b"started" in log
    assert elapsed < 10
    script_pid, child_pid = map(int, pid_file.read_text().split())
    deadline = time.monotonic() + 5
    while pid_alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child_pid), "the script's child survived the timeout"
    assert not pid_alive(script_pid)


def test_a_script_that_exits_on_sigterm_stops_within_the_grace(tmp_path):
    outcome, _, _ = run_source(tmp_path, "import time\ntime.sleep(600)\n", timeout=1, grace=5)
    assert outcome.timed_out
    assert outcome.exit_code == -signal.SIGTERM


def test_it_stops_the_run_when_the_tick_asks(tmp_path):
    ticks = []

    def on_tick():
        ticks.append(1)
        return "cancelled" if len(ticks) >= 2 else None

    outcome, _, _ = run_source(tmp_path, "import time\ntime.sleep(600)\n", on_tick=on_tick, grace=1)
    assert outcome.stop_reason == "cancelled"
    assert not outcome.timed_out


def test_a_child_left_holding_the_log_pipe_does_not_keep_the_run_alive(tmp_path):
    source = """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print("parent done")
    """
    started = time.monotonic()
    outcome, _, log = run_source(tmp_path, source, timeout=30)
    assert outcome.exit_code == 0
    assert b"parent done" in log
    assert time.monotonic() - started < 10


def test_printing_200_mb_keeps_the_supervisor_memory_flat(tmp_path):
    # Measure the peak RSS of a supervisor process running a script that prints
    # 200 MB, against the same supervisor running a script that prints nothing.
    probe = textwrap.dedent(
        """
        import resource, sys
        from pathlib import Path
        from tests.runner_helpers import run_source
        source = sys.argv[2]
        outcome, _, log = run_source(Path(sys.argv[1]), source, timeout=120, log_limit=1_000_000)
        assert outcome.exit_code == 0, outcome
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(log))
        """
    )
    loud = "import sys\nline = 'y' * 1023 + '\\n'\nfor _ in range(200 * 1024):\n    sys.stdout.write(line)\n"
    quiet = "pass\n"

    def peak(source: str) -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path), source],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.getcwd(),
            timeout=180,
        ).stdout.split()
        return int(out[0]), int(out[1])

    baseline_kb, _ = peak(quiet)
    loud_kb, log_size = peak(loud)
    assert log_size < 1_000_000 + 200
    assert loud_kb - baseline_kb < 20 * 1024, f"peak RSS grew {loud_kb - baseline_kb} KiB"


def test_a_spawn_that_fails_leaves_no_pipe_open(tmp_path, monkeypatch):
    from scripts_app.worker.runner import process

    def broken_spawn(spec, lifeline_fd):
        raise OSError("no more processes")

    monkeypatch.setattr(process, "spawn", broken_spawn)
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(3):
        try:
            run_source(tmp_path, "def main(data):\n    return 1\n")
        except OSError:
            pass
    assert set(os.listdir("/proc/self/fd")) == before


def test_a_scripts_group_is_signalled_only_while_its_number_is_still_taken(tmp_path, monkeypatch):
    # Once a script is reaped its pid (its group's id) is free for another run's group;
    # the group is killed while the script is an unreaped zombie, never after.
    signalled = []
    original = process.kill_group

    def kill_group(pgid, sig):
        if sig:
            signalled.append(os.path.exists(f"/proc/{pgid}"))
        return original(pgid, sig)

    monkeypatch.setattr(process, "kill_group", kill_group)
    for fork_server in (False, True):
        outcome = run_source(tmp_path, "print('done')\n", fork_server=fork_server)[0]
        assert outcome.exit_code == 0
    assert all(signalled)
