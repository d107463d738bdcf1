"""`make run` on embedded defaults (SQLite, local files, in-process broker), as a newcomer
runs it: no DEBUG, no SECRET_KEY. It sets up, serves web + worker + scheduler, answers a
curl trigger, stops cleanly on Ctrl-C, prints the admin's password only the first time,
and a plain-shell ``manage.py hello`` afterwards uses the same database and keys."""

import json
import subprocess
import urllib.request

import pytest

from tests.live_stack import ROOT, make_run

pytestmark = pytest.mark.slow


def manage(env: dict, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_make_run_serves_a_curl_trigger_stops_on_ctrl_c_and_keeps_its_data(tmp_path):
    stack = make_run(tmp_path)
    try:
        first = stack.output()
        token = first.split("API token:")[1].split()[0]
        assert "password:" in first
        body = post(f"{stack.url}/scripts/hello/?wait=20", token, {"data": {"name": "World"}})
        assert body["success"] is True, body
        assert body["result"]["greeting"] == "Hello, World!"
        assert body["execution_time"] is not None
    finally:
        out = stack.stop()
    assert "Parseq stopped." in out, out[-3000:]
    assert stack.leftovers() == ""  # nothing of the stack is left behind
    assert "DEBUG" not in stack.env and "SECRET_KEY" not in stack.env
    assert (tmp_path / "var" / "db.sqlite3").exists()
    assert (tmp_path / "var" / "secret_key").exists()

    # A plain shell afterwards: the same database and keys, no DEBUG or SECRET_KEY needed.
    hello = manage(stack.env, "hello", "--params", '{"name": "Ann"}')
    assert hello.returncode == 0, hello.stderr
    log, _, result = hello.stdout.partition("{")  # the script's output, then its result
    assert log == "greeting Ann\n" and json.loads("{" + result)["greeting"] == "Hello, Ann!"

    again = make_run(tmp_path)
    try:
        assert "password:" not in again.output()  # printed once only
    finally:
        again.stop()
