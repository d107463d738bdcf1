"""`make run`'s stack on embedded defaults (SQLite, local files, in-process broker):
set up, serve web + worker + scheduler, answer a curl trigger, stop cleanly on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.services import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def embedded_env(data_dir: Path, port: int) -> dict:
    # Only what `make run` would have: no DATABASE_URL, no broker, no S3.
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(data_dir),
        "DEBUG": "1",
        "PARSEQ_DATA_DIR": str(data_dir),
        "PORT": str(port),
    }


def manage(env: dict, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "runall exited early"
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the web server did not come up")


def test_the_embedded_stack_runs_a_curl_triggered_job_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = embedded_env(tmp_path, port)
    manage(env, "migrate", "--no-input")
    first = manage(env, "ensureadmin")
    token = first.split("API token:")[1].split()[0]
    assert "password:" in first
    assert "password:" not in manage(env, "ensureadmin")  # printed once only
    manage(env, "loaddemo")
    assert (tmp_path / "db.sqlite3").exists()

    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runall"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/admin/login/", proc)
        body = post(
            f"http://127.0.0.1:{port}/scripts/hello/?wait=20", token, {"data": {"name": "World"}}
        )
        assert body["success"] is True, body
        assert body["result"]["greeting"] == "Hello, World!"
        assert body["execution_time"] is not None
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:]
    assert b"Parseq stopped." in out
    # Nothing of the stack is left behind.
    leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
    # The data survives a restart: running `manage.py hello` uses the same database.
    manage(env, "hello")
