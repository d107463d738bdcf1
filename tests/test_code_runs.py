"""Code jobs run on the worker: Django set up, supervised like scripts (spawned, or
forked from the Django fork server), on the suite's real PostgreSQL."""

import os
import threading
import time

import pytest
from django.db import connection

from scripts_app.code import sync
from scripts_app.jobs import secrets
from scripts_app.models import Execution, Job, JobKind, NotifyOn, Status, Trigger
from scripts_app.runs import control, dispatch, logs
from scripts_app.worker import code_runs, execution
from scripts_app.worker.runner import zygote
from tests.codejobs_app.models import Note
from tests.runner_helpers import gone_soon


@pytest.fixture
def code_jobs(transactional_db, monkeypatch):
    """The app's code jobs synced; their processes use this test database."""
    monkeypatch.setenv("PARSEQ_TEST_CHILD_DB", connection.settings_dict["NAME"])
    sync.sync_jobs()


@pytest.fixture(params=["spawned", "forked"])
def how(request, code_jobs):
    """Both ways a code job starts: a Django boot per run, or a fork of the Django server."""
    if request.param == "forked":
        zygote.enable()
    yield request.param
    zygote.disable()


@pytest.fixture
def forked(code_jobs):
    zygote.enable()
    yield
    zygote.disable()


def run(slug: str, params: dict | None = None) -> Execution:
    job = Job.objects.get(slug=slug)
    queued = dispatch.trigger(job, params=params, trigger=Trigger.CLI, send=False)
    return execution.execute(queued.pk)


def log_of(run: Execution) -> str:
    return logs.read_log(run)[0].decode()


def test_a_code_job_writes_a_row_with_the_apps_model_and_logs(how):
    done = run("write-note", {"text": "from code"})
    assert done.status == Status.SUCCEEDED, done.error
    note = Note.objects.get()
    assert (note.text, note.run_id) == ("from code", done.pk)
    assert done.result == {"note": note.pk, "secret": ""}
    assert done.script_version_id is None
    log = log_of(done)
    assert "printed from code" in log
    assert f"INFO codejobs_app.jobs: wrote note {note.pk}" in log  # logging records too
    assert {a.name for a in done.artifacts.all()} == {"output.txt"}  # the runtime API works


def test_a_code_job_gets_its_env_and_secrets(forked):
    job = Job.objects.get(slug="write-note")
    secrets.set_secret(job, "NOTE_SECRET", "s3cr3t-value")
    done = run("write-note")
    assert done.status == Status.SUCCEEDED, done.error
    assert done.result["secret"] == "***"  # it had the value; masked in what is stored


def test_a_failing_code_job_records_its_traceback(how):
    done = run("code-fails", {"why": "on purpose"})
    assert done.status == Status.FAILED
    assert done.error.startswith("Traceback (most recent call last):")
    assert "in _explode" in done.error
    assert done.error.endswith("ValueError: no good: on purpose")
    assert "codechild.py" not in done.error  # Parseq's own frames are left out
    assert "ValueError: no good: on purpose" in log_of(done)


def test_a_result_that_is_not_json_fails_the_run(forked):
    done = run("code-bad-result")
    assert done.status == Status.FAILED
    assert "not JSON-serialisable" in done.error


def test_none_becomes_an_empty_result(forked):
    done = run("code-noop")
    assert (done.status, done.result) == (Status.SUCCEEDED, {})


def test_a_code_job_ignoring_sigterm_is_killed_with_its_child_at_timeout(how, tmp_path):
    pid_file = tmp_path / "pids"
    done = run("stubborn", {"pid_file": str(pid_file)})
    assert done.status == Status.TIMED_OUT
    assert done.error == "timed out after 2 s"
    job_pid, child_pid = map(int, pid_file.read_text().split())
    assert gone_soon([job_pid, child_pid])
    assert "child started" in log_of(done)


def test_forked_runs_never_share_the_servers_database_connection(forked):
    ended = {}

    def probe(key: str) -> None:
        try:
            ended[key] = run("connection-probe", {"hold": 1})
        finally:
            connection.close()

    threads = [threading.Thread(target=probe, args=(key,)) for key in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    a, b = ended["a"].result, ended["b"].result
    assert a["fresh"] and b["fresh"]  # no connection inherited from the server
    assert a["backend"] != b["backend"]  # each run its own session
    assert a["parent"] == b["parent"]  # both forked from the one Django server
    server = zygote.SERVERS[next(k for k in zygote.SERVERS if k.inherits_environment)]
    assert a["parent"] == server.process.pid


def test_a_task_job_whose_function_is_gone_fails_naming_it(forked):
    job = Job.objects.create(
        slug="a-task",
        name="A task",
        kind=JobKind.TASK,
        entrypoint="tests.tasks_app.tasks:no_such_task",
    )
    done = execution.execute(dispatch.trigger(job, trigger=Trigger.TASK, send=False).pk)
    assert done.status == Status.FAILED
    assert "no_such_task" in done.error


def test_cancelling_a_running_code_job_kills_it_and_its_child(forked, worker, tmp_path):
    Job.objects.filter(slug="stubborn").update(timeout=600)  # long enough to cancel
    pid_file = tmp_path / "pids"
    queued = dispatch.trigger(
        Job.objects.get(slug="stubborn"), params={"pid_file": str(pid_file)}, trigger=Trigger.API
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the code job did not start"
        time.sleep(0.05)
    control.cancel(queued)
    while Execution.objects.get(pk=queued.pk).status == Status.RUNNING:
        assert time.monotonic() < deadline + 10, "still running after cancel"
        time.sleep(0.05)
    queued.refresh_from_db()
    assert (queued.status, queued.error) == (Status.CANCELLED, "cancelled by request")
    assert gone_soon(list(map(int, pid_file.read_text().split())))


def test_a_failed_code_job_is_retried_and_its_failure_mailed(forked, smtp_server, settings):
    settings.PARSEQ_BASE_URL = "https://parseq.example.com"
    Job.objects.filter(slug="code-fails").update(
        max_retries=1,
        retry_backoff=0,
        notify_on=NotifyOn.FAILURE,
        notify_emails="ops@example.com",
    )
    first = run("code-fails")
    assert first.status == Status.FAILED
    retry = Execution.objects.get(retry_of=first)
    assert (retry.trigger, retry.attempt, retry.script_version_id) == (Trigger.RETRY, 2, None)
    second = execution.execute(retry.pk)
    assert second.status == Status.FAILED
    assert len(smtp_server.messages) == 2  # one per failed attempt, as for scripts
    for message in smtp_server.messages:
        assert "ValueError: no good: because" in message.get_body(("plain",)).get_content()


def test_a_code_jobs_memory_limit_applies_to_its_process(forked):
    assert run("code-hog", {"mb": 16}).status == Status.SUCCEEDED  # fits beside Django
    done = run("code-hog", {"mb": 512})
    assert done.status == Status.FAILED
    assert done.error.endswith("MemoryError")


def test_the_worker_warms_its_django_fork_server_and_runs_fork_from_it(forked):
    code_runs.warm_server()
    [server] = [s for key, s in zygote.SERVERS.items() if key.inherits_environment]
    assert server.running()
    done = run("connection-probe")
    assert done.result["parent"] == server.process.pid


def test_a_code_job_is_spawned_when_the_django_fork_server_cannot_start(forked, monkeypatch):
    # A "server" that exits at once, never listening: the run falls back to a spawn.
    monkeypatch.setattr(zygote, "CODE_SERVER_MODULE", "scripts_app.code.discovery")
    done = run("connection-probe")
    assert done.status == Status.SUCCEEDED, done.error
    assert done.result["parent"] == os.getpid()  # spawned by this worker, not forked
    assert not any(s.running() for k, s in zygote.SERVERS.items() if k.inherits_environment)
