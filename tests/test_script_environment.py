"""Invariant 5: scripts never see the server's secrets — a clean environment only."""

import json
import os

import pytest

from scripts_app.models import Status
from scripts_app.runs import dispatch
from scripts_app.worker import execution, sandboxing

DUMP_ENV = "import os\ndef main(data):\n    return dict(os.environ)\n"


@pytest.fixture
def server_secrets(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "server-secret-key")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:dbpassword@db/parseq")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "storage-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "storage-key-id")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "smtp-password")


def test_the_script_environment_holds_no_server_secrets(make_job, server_secrets, settings):
    job = make_job(DUMP_ENV, env={"REPORT_TITLE": "Daily"})
    run = execution.execute(dispatch.trigger(job, trigger="cli", send=False).pk)
    assert run.status == Status.SUCCEEDED
    env = run.result
    blob = json.dumps(env)
    for secret in (
        "server-secret-key",
        "dbpassword",
        "storage-secret",
        "smtp-password",
        settings.SECRET_KEY,
    ):
        assert secret not in blob
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "DJANGO_SETTINGS_MODULE",
        "EMAIL_HOST_PASSWORD",
    ):
        assert name not in env
    assert env["REPORT_TITLE"] == "Daily"
    assert env["PARSEQ_RUN_ID"] == str(run.pk)
    # Its private HOME is in its workspace (sandboxed, as the script sees it there).
    if sandboxing.state().sandboxed:
        assert env["HOME"] == "/run/parseq/ws/home"
    else:
        assert env["HOME"].startswith(str(settings.PARSEQ_WORK_DIR))


def test_the_script_runs_in_its_own_process_group(make_job, unsandboxed):
    job = make_job("import os\ndef main(data):\n    return [os.getpid(), os.getpgid(0)]\n")
    run = execution.execute(dispatch.trigger(job, trigger="cli", send=False).pk)
    pid, pgid = run.result
    assert pid == pgid


# That a script cannot read the worker's environment through /proc either (spawned or
# forked, the secret in the worker's real start-up environment): test_runner_hardening.py.


def test_parseq_processes_are_not_dumpable():
    with open(f"/proc/{os.getpid()}/status") as handle:
        status = handle.read()
    # ``ready()`` ran in this process; a non-dumpable process's /proc files belong to root
    # and need CAP_SYS_PTRACE, which scripts give up.
    import ctypes

    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE
    assert "Name:" in status
