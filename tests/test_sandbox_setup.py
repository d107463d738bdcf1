"""Issue 15: deciding the sandbox at worker start (a real probe), saying loudly when scripts
run without it (the worker log, the admin dashboard), and the script user of a root worker."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from scripts_app.models import Status, Trigger
from scripts_app.models_operations import ProcessHeartbeat
from scripts_app.observability import heartbeat
from scripts_app.runs import dispatch
from scripts_app.worker import execution, sandboxing
from scripts_app.worker.middleware import ForkServer
from scripts_app.worker.runner import zygote
from tests.services import need

DASHBOARD = reverse("admin:scripts_app_dashboard")
FAILING_BWRAP = "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    sandboxing.forget()
    monkeypatch.setattr(heartbeat, "FACTS", {})
    yield
    sandboxing.forget()
    zygote.disable()


@pytest.fixture
def failing_bwrap(tmp_path, monkeypatch) -> Path:
    """A bwrap that is installed but cannot work here (as in a locked-down container)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text(FAILING_BWRAP)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return fake


def test_auto_sandboxes_when_the_probe_succeeds(settings):
    need("bwrap", "the probe runs the real bwrap")
    settings.PARSEQ_SANDBOX = "auto"
    state = sandboxing.state()
    assert state.sandboxed and state.reason == ""
    assert state.profile.bwrap == need("bwrap", "")


def test_auto_falls_back_to_no_sandbox_when_bwrap_is_not_on_path(settings, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    settings.PARSEQ_SANDBOX = "auto"
    state = sandboxing.state()
    assert not state.sandboxed
    assert "not installed" in state.reason


def test_auto_falls_back_when_bwrap_is_installed_but_fails(settings, failing_bwrap):
    settings.PARSEQ_SANDBOX = "auto"
    state = sandboxing.state()
    assert not state.sandboxed
    assert "Permission denied" in state.reason and "exit 1" in state.reason


def test_bwrap_mode_with_a_failing_probe_refuses_to_start_the_worker(
    settings, failing_bwrap, caplog
):
    settings.PARSEQ_SANDBOX = "bwrap"
    with pytest.raises(SystemExit):
        ForkServer().after_worker_boot(broker=None, worker=None)
    refused = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "PARSEQ_SANDBOX=bwrap, but the sandbox does not work" in refused[0].getMessage()
    assert "Permission denied" in refused[0].getMessage()


def test_an_unsandboxed_worker_warns_once_at_start(settings, caplog):
    settings.PARSEQ_SANDBOX = "off"
    settings.PARSEQ_FORK_SERVER = False
    with caplog.at_level(logging.WARNING):
        ForkServer().after_worker_boot(broker=None, worker=None)
    warnings = [r.getMessage() for r in caplog.records if "NOT SANDBOXED" in r.getMessage()]
    assert len(warnings) == 1
    assert "PARSEQ_SANDBOX=off" in warnings[0]


def test_a_sandboxed_worker_does_not_warn(settings, caplog):
    need("bwrap", "a sandboxed worker")
    settings.PARSEQ_SANDBOX = "bwrap"
    settings.PARSEQ_FORK_SERVER = False
    with caplog.at_level(logging.WARNING):
        ForkServer().after_worker_boot(broker=None, worker=None)
    assert not [r for r in caplog.records if "NOT SANDBOXED" in r.getMessage()]


def _beat_as_worker(settings, mode: str) -> None:
    settings.PARSEQ_SANDBOX = mode
    sandboxing.at_worker_start()
    heartbeat.Beat("worker")._record()


@pytest.mark.django_db
def test_the_dashboard_says_scripts_are_not_sandboxed_while_such_a_worker_runs(settings, alice):
    User.objects.filter(pk=alice.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(alice)
    assert "scripts are not sandboxed" not in client.get(DASHBOARD).content.decode()

    _beat_as_worker(settings, "off")

    row = ProcessHeartbeat.objects.get(process="worker", pid=os.getpid())
    assert row.sandboxed is False
    page = client.get(DASHBOARD).content.decode()
    assert "scripts are not sandboxed" in page
    assert f":{os.getpid()}" in page


@pytest.mark.django_db
def test_the_dashboard_shows_no_warning_for_sandboxed_workers(settings, alice):
    need("bwrap", "a sandboxed worker")
    User.objects.filter(pk=alice.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(alice)
    _beat_as_worker(settings, "bwrap")
    assert ProcessHeartbeat.objects.get(process="worker", pid=os.getpid()).sandboxed is True
    assert "scripts are not sandboxed" not in client.get(DASHBOARD).content.decode()


WHO = """
import os
def main(data):
    with open("report.txt", "w") as handle:  # collected from the working directory
        handle.write("made by %d" % os.getuid())
    owner = os.stat(".").st_uid  # its workspace, its working directory
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "owner": owner}
"""


@pytest.fixture
def open_work_dir(settings):
    """A work directory the script user can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="parseq-script-user-"))
    base.chmod(0o755)
    settings.PARSEQ_WORK_DIR = base / "runs"
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the script user applies to root workers")
@pytest.mark.parametrize("mode", ["off", "bwrap"])
def test_a_root_worker_runs_scripts_as_the_script_user_and_collects_their_files(
    make_job, settings, open_work_dir, mode
):
    if mode == "bwrap":
        need("bwrap", "the script user inside the sandbox")
    settings.PARSEQ_SANDBOX = mode
    settings.PARSEQ_SCRIPT_USER = "nobody"
    # Forked, as on a worker: unsandboxed, a *spawned* script must also be able to reach
    # the interpreter as that user (this machine's Python is under /root, 0700).
    zygote.enable()
    job = make_job(WHO, slug=f"who-{uuid.uuid4().hex[:6]}")
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    nobody = sandboxing.script_user("nobody")
    assert run.status == Status.SUCCEEDED, run.error
    assert run.result == {"uid": nobody[0], "gid": nobody[1], "groups": [], "owner": nobody[0]}
    (artifact,) = run.artifacts.all()
    assert artifact.name == "report.txt"


def test_an_unknown_script_user_is_a_clear_configuration_error(settings):
    if os.geteuid() != 0:
        pytest.skip("the script user applies to root workers")
    settings.PARSEQ_SANDBOX = "off"
    settings.PARSEQ_SCRIPT_USER = "no-such-user-here"
    with pytest.raises(Exception, match="PARSEQ_SCRIPT_USER='no-such-user-here': no such user"):
        sandboxing.state()


def test_a_virtualenv_under_tmp_is_bound_again_into_a_forked_runs_fresh_tmp(tmp_path):
    # A clean clone in /tmp has its .venv there: a forked run's own /tmp must not hide
    # its interpreter (confine.own_mounts binds it back, read-only).
    import sys

    from scripts_app.worker.runner import bwrap, confine

    venv = tmp_path / "checkout" / ".venv"
    (venv / "bin").mkdir(parents=True)
    base = Path(sys.base_prefix) / "bin"
    (venv / "pyvenv.cfg").write_text(f"home = {base}\n")
    (venv / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    interpreter = str(venv / "bin" / "python")
    profile = bwrap.Profile("/usr/bin/bwrap", str(tmp_path / "runs"), str(tmp_path / "rt"))
    (tmp_path / "runs" / "ws1").mkdir(parents=True)
    request = bwrap.Confinement(profile, str(tmp_path / "runs" / "ws1")).request(None, interpreter)
    assert request["keep"] == [[f"{confine.KEPT}/0", str(venv)]]
    args = bwrap.server_args(profile, interpreter)
    kept = [i for i, arg in enumerate(args) if arg == f"{confine.KEPT}/0"]
    assert kept and args[kept[0] - 2 : kept[0]] == ("--ro-bind", str(venv.resolve()))
