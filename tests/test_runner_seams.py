"""Doors for what comes next, kept shut for now: a run names the interpreter that runs
it and may run under a wrapper command; fork servers are keyed by interpreter and
start-up environment."""

import os
import sys
import time

import pytest

from scripts_app.worker.runner import pool, zygote
from tests.runner_helpers import run_source

REPORT = (
    "import os, sys\n\ndef main(data):\n    return [sys.executable, os.environ.get('WRAPPED')]\n"
)


@pytest.fixture
def alias(tmp_path):
    """Another name for this interpreter: what a run reports tells which one ran it."""
    link = tmp_path / "python-alias"
    link.symlink_to(sys.executable)
    return str(link)


@pytest.fixture
def servers():
    yield
    zygote.disable()


def test_a_spawned_run_uses_the_interpreter_it_names(tmp_path, alias):
    outcome = run_source(tmp_path, REPORT, interpreter=alias)[0]
    assert outcome.extra["result"] == [alias, None]


def test_a_forked_run_comes_from_the_fork_server_of_its_interpreter(tmp_path, alias, servers):
    plain = run_source(tmp_path, REPORT, fork_server=True)[0]
    # Another interpreter's server is the pool's (a script environment's): the first run
    # is spawned while it starts in the background, the next ones are forked from it.
    first = run_source(tmp_path, REPORT, fork_server=True, interpreter=alias)[0]
    assert not first.left_nothing and first.extra["result"][0] == alias
    deadline = time.monotonic() + 30
    while not any(server.running() for server in pool.POOL.servers().values()):
        assert time.monotonic() < deadline, "the pooled fork server did not start"
        time.sleep(0.02)
    aliased = run_source(tmp_path, REPORT, fork_server=True, interpreter=alias)[0]
    assert plain.left_nothing and aliased.left_nothing  # both forked, not spawned
    assert plain.extra["result"][0] == sys.executable
    assert aliased.extra["result"][0] == alias
    assert {sys.executable, alias} <= {key.interpreter for key in zygote.SERVERS}


def test_a_wrapped_run_runs_under_its_wrapper_and_is_never_forked(tmp_path, servers):
    wrapper = ("/usr/bin/env", "WRAPPED=yes")
    before = dict(zygote.SERVERS)
    outcome = run_source(tmp_path, REPORT, fork_server=True, wrapper=wrapper)[0]
    assert outcome.exit_code == 0
    assert outcome.extra["result"] == [sys.executable, "yes"]
    assert not outcome.left_nothing  # spawned: only a fork server can vouch for a run
    assert zygote.SERVERS == before  # no fork server was asked


def test_one_fork_server_per_key():
    env = {"PATH": os.defpath, "LANG": "C.UTF-8", "PARSEQ_RUN_ID": "1"}
    key = zygote.ServerKey.for_run(env)
    assert key == zygote.ServerKey.for_run({**env, "PARSEQ_RUN_ID": "2"})
    assert key != zygote.ServerKey.for_run(env, "/opt/other/python")
    assert key != zygote.ServerKey.for_run({**env, "LANG": "C"})
    try:
        assert zygote.server_for(key) is zygote.for_env(env)
        assert zygote.server_for(key) is not zygote.for_env(env, "/opt/other/python")
    finally:
        zygote.disable()
