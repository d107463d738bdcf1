"""The pool of script environments' fork servers (worker/runner/pool.py): a server per
interpreter started in the background, bounded, idle ones retired, and never one with a
run on it. Other names for this interpreter stand in for environments' interpreters."""

import sys
import threading
import time

import pytest

from scripts_app.worker.runner import pool, zygote
from tests.runner_helpers import run_source

REPORT = "import sys\n\ndef main(data):\n    return sys.executable\n"


@pytest.fixture
def interpreters(tmp_path):
    links = [tmp_path / "env-a-python", tmp_path / "env-b-python"]
    for link in links:
        link.symlink_to(sys.executable)
    return [str(link) for link in links]


@pytest.fixture
def one_server():
    pool.POOL.configure(size=1, idle_seconds=600)
    yield pool.POOL
    zygote.disable()
    pool.POOL.configure(size=4, idle_seconds=600)


def running(interpreter: str) -> zygote.Zygote:
    deadline = time.monotonic() + 30
    while True:
        for key, server in pool.POOL.servers().items():
            if key.interpreter == interpreter and server.running():
                return server
        assert time.monotonic() < deadline, f"no running server for {interpreter}"
        time.sleep(0.02)


def test_the_first_run_is_spawned_and_the_next_forked_from_a_server_started_meanwhile(
    tmp_path, interpreters, one_server
):
    first = run_source(tmp_path, REPORT, fork_server=True, interpreter=interpreters[0])[0]
    server = running(interpreters[0])
    second = run_source(tmp_path, REPORT, fork_server=True, interpreter=interpreters[0])[0]
    assert (first.left_nothing, second.left_nothing) == (False, True)  # spawned, forked
    assert first.extra["result"] == second.extra["result"] == interpreters[0]
    assert server.active == 0 and server.running()


def test_a_server_with_a_run_on_it_is_never_retired(tmp_path, interpreters, one_server):
    busy, other = interpreters
    run_source(tmp_path, REPORT, fork_server=True, interpreter=busy)
    server = running(busy)
    ended = []
    sleeper = threading.Thread(
        target=lambda: ended.append(
            run_source(
                tmp_path, "import time\ntime.sleep(1.5)\n", fork_server=True, interpreter=busy
            )
        )
    )
    sleeper.start()
    deadline = time.monotonic() + 10
    while server.active == 0:
        assert time.monotonic() < deadline, "the run was not forked from the server"
        time.sleep(0.01)

    one_server.idle_seconds = 0
    assert one_server.retire_idle() == 0
    # The pool is full and its one server busy: this run is spawned and nothing retired.
    spawned = run_source(tmp_path, REPORT, fork_server=True, interpreter=other)[0]
    assert not spawned.left_nothing and spawned.extra["result"] == other
    assert [key.interpreter for key in one_server.servers()] == [busy]

    sleeper.join(30)
    (outcome, _ws, _log) = ended[0]
    assert outcome.exit_code == 0 and outcome.left_nothing  # forked, ran to its end
    assert one_server.retire_idle() == 1 and not server.running()
