"""A run on the worker: claim, run, store log/result/artifacts, final status."""

import signal
import threading
import time

import dramatiq
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scripts_app.files import storage_api
from scripts_app.jobs import masking
from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch, logs, state
from scripts_app.worker import execution, limits, steps, verdict
from scripts_app.worker.actor import run_execution

ARTIFACTS = """
from scripts_app import runtime
def main(data):
    print("working on", data["n"])
    runtime.write_output(f"n={data['n']}")
    runtime.output_path("data/result.csv").write_text("n\\n%d\\n" % data["n"])
    return {"double": data["n"] * 2}
"""


def wait_final(run: Execution, seconds: float = 20) -> Execution:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_final:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run #{run.pk} still {run.status}")


def test_a_run_stores_its_result_log_and_artifacts(make_job):
    job = make_job(ARTIFACTS, slug="art")
    run = execution.execute(
        dispatch.trigger(job, params={"n": 4}, trigger=Trigger.CLI, send=False).pk
    )
    assert run.status == Status.SUCCEEDED
    assert run.result == {"double": 8}
    assert run.exit_code == 0
    assert run.started_at <= run.finished_at
    assert run.script_sha256 == run.script_version.sha256
    with default_storage.open(run.log.name) as handle:
        assert b"working on 4" in handle.read()
    artifacts = {a.name: a for a in run.artifacts.all()}
    assert set(artifacts) == {"output.txt", "data/result.csv"}
    assert artifacts["data/result.csv"].content_type == "text/csv"
    with default_storage.open(artifacts["data/result.csv"].file.name) as handle:
        assert handle.read() == b"n\n4\n"
    assert artifacts["output.txt"].size == len(b"n=4\n")
    assert not run.log_chunks.exists()


def test_a_failing_script_is_failed_with_the_exception_as_error(make_job):
    job = make_job("def main(data):\n    raise RuntimeError('disk full')\n")
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    assert run.status == Status.FAILED
    assert run.error == "RuntimeError: disk full"
    assert run.exit_code == 1


def test_a_timeout_ends_timed_out(make_job):
    job = make_job("import time\ntime.sleep(60)\n", timeout=1)
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    assert run.status == Status.TIMED_OUT
    assert run.error == "timed out after 1 s"


def test_a_run_keeps_the_script_version_it_ran(make_job):
    from tests.conftest import script_file

    job = make_job("def main(data):\n    return 'v1'\n")
    first = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    job.script = script_file("def main(data):\n    return 'v2'\n", "echo.py")
    job.save()
    second = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    assert (first.result, second.result) == ("v1", "v2")
    assert first.script_sha256 != second.script_sha256
    first.refresh_from_db()
    with first.script_version.file.open("rb") as handle:
        assert b"v1" in handle.read()


def test_the_worker_runs_a_sent_execution(worker, make_job):
    job = make_job(ARTIFACTS, slug="art")
    run = dispatch.trigger(job, params={"n": 1}, trigger=Trigger.API)
    run = wait_final(run)
    assert run.status == Status.SUCCEEDED
    assert run.result == {"double": 2}
    assert run.sent_at is not None


def test_a_duplicate_message_does_not_run_the_script_twice(worker, make_job, tmp_path, unsandboxed):
    marker = tmp_path / "runs.txt"
    job = make_job(
        f"import time\ndef main(data):\n    open({str(marker)!r}, 'a').write('x')\n"
        "    time.sleep(0.5)\n"
    )
    run = dispatch.trigger(job, trigger=Trigger.API)
    run_execution.send(run.pk)  # a redelivery of the same pointer
    run_execution.send(run.pk)
    wait_final(run)
    dramatiq.get_broker().join("default", timeout=10_000)
    worker.join()
    assert marker.read_text() == "x"
    assert Execution.objects.get(pk=run.pk).status == Status.SUCCEEDED


def test_a_message_for_a_finished_run_changes_nothing(make_job):
    job = make_job()
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    finished_at = run.finished_at
    assert execution.execute(run.pk) is None
    run.refresh_from_db()
    assert run.finished_at == finished_at


@pytest.mark.parametrize("limit", [2048])
def test_the_live_log_is_readable_while_the_run_goes(worker, make_job, limit):
    from scripts_app.runs.logs import read_log

    job = make_job(
        "import time\nprint('first line', flush=True)\ntime.sleep(3)\nprint('second line')\n"
    )
    run = dispatch.trigger(job, trigger=Trigger.API)
    deadline = time.monotonic() + 10
    data = b""
    while time.monotonic() < deadline and b"first line" not in data:
        time.sleep(0.2)
        run.refresh_from_db()
        data, _ = read_log(run, 0, limit)
    assert b"first line" in data
    assert run.status == Status.RUNNING
    run = wait_final(run)
    data, next_offset = read_log(run, 0, limit)
    assert b"first line\nsecond line\n" == data
    assert next_offset == len(data)
    tail, _ = read_log(run, len(b"first line\n"), limit)
    assert tail == b"second line\n"


# --- a run never stays "running" because of the worker's own errors --------------------


def run_now(job) -> Execution:
    return execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)


def running_heartbeat():
    return Execution.objects.get(status=Status.RUNNING).heartbeat_at


def test_a_script_killed_by_a_real_time_signal_fails_naming_the_signal(make_job):
    number = signal.SIGRTMIN + 6  # has no name: signal.Signals(number) raises ValueError
    run = run_now(make_job(f"import os\nos.kill(os.getpid(), {number})\n"))
    assert run.status == Status.FAILED
    assert run.error == f"killed by signal {number}"


def test_a_storage_error_fetching_input_files_fails_the_run_clearly(make_job, monkeypatch):
    from botocore.exceptions import ClientError

    def denied(params, inputs_dir):
        error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
        raise ClientError(error, "GetObject")

    monkeypatch.setattr(storage_api, "fetch_inputs", denied)
    run = run_now(make_job())
    assert run.status == Status.FAILED
    assert run.error.startswith("input files: An error occurred (AccessDenied)")


def test_an_unexpected_worker_error_fails_the_run_naming_it(make_job, monkeypatch, caplog):
    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(masking, "mask_file", disk_full)
    run = run_now(make_job())
    assert run.status == Status.FAILED
    assert run.error == "worker error: OSError: [Errno 28] No space left on device"
    assert run.finished_at is not None
    assert "Traceback" in caplog.text


def test_ctrl_c_cancels_the_run_and_is_raised_again(make_job, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "run_process", interrupted)
    run = dispatch.trigger(make_job(), trigger=Trigger.CLI, send=False)
    with pytest.raises(KeyboardInterrupt):
        execution.execute(run.pk)
    run.refresh_from_db()
    assert (run.status, run.error) == (Status.CANCELLED, "interrupted")


@pytest.mark.parametrize(
    "module, step",
    [
        (storage_api, "fetch_inputs"),
        (storage_api, "store_results"),
        (limits, "breach_after_exit"),
        (masking, "mask_file"),
    ],
)
def test_the_heartbeat_goes_on_during_slow_steps_around_the_process(
    make_job, monkeypatch, settings, transactional_db, module, step
):
    settings.PARSEQ_HEARTBEAT_SECONDS = 0.2
    original = getattr(module, step)
    fresh = []

    def slow(*args, **kwargs):
        before = running_heartbeat()
        time.sleep(1)
        fresh.append(running_heartbeat() > before)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, step, slow)
    run = run_now(make_job())
    assert run.status == Status.SUCCEEDED
    assert fresh == [True]


def test_a_run_ended_elsewhere_is_stopped_at_the_next_heartbeat(make_job, transactional_db):
    job = make_job("import time\ntime.sleep(30)\n", timeout=60)
    run = dispatch.trigger(job, trigger=Trigger.CLI, send=False)
    reaped = "worker lost: no heartbeat for 10 s"

    def reaper():
        while not Execution.objects.filter(pk=run.pk, status=Status.RUNNING).exists():
            time.sleep(0.1)
        state.finish(run.pk, Status.FAILED, error=reaped)
        connection.close()

    thread = threading.Thread(target=reaper)
    thread.start()
    started = time.monotonic()
    done = execution.execute(run.pk)
    thread.join()
    assert time.monotonic() - started < 15
    assert (done.status, done.error) == (Status.FAILED, reaped)


def test_a_heartbeat_is_one_statement_and_the_pid_is_written_once(make_job):
    job = make_job("import time\ntime.sleep(2.5)\n")
    run = dispatch.trigger(job, trigger=Trigger.CLI, send=False)
    with CaptureQueriesContext(connection) as queries:
        done = execution.execute(run.pk)
    assert done.status == Status.SUCCEEDED and done.pid
    statements = [q["sql"] for q in queries.captured_queries]
    beat = 'UPDATE "scripts_app_execution" SET "heartbeat_at" ='
    beats = [sql for sql in statements if sql.startswith(beat)]
    assert len(beats) >= 2 and all("cancel_requested_at" in sql for sql in beats)
    polls = 'SELECT "scripts_app_execution"."cancel_requested_at" FROM'
    assert not [sql for sql in statements if sql.startswith(polls)]
    assert len([sql for sql in statements if sql.startswith("UPDATE") and '"pid" =' in sql]) == 1


def test_a_run_that_leaves_nothing_behind_takes_three_queries(make_job):
    job = make_job("def main(data):\n    return 1\n")
    run = dispatch.trigger(job, trigger=Trigger.CLI, send=False)
    with CaptureQueriesContext(connection) as queries:
        done = execution.execute(run.pk)
    assert (done.status, done.result) == (Status.SUCCEEDED, 1)
    # load (with job, version, has-secrets), claim, final state: no secrets, chunks or reload
    assert len(queries.captured_queries) == 3
    assert done == Execution.objects.get(pk=run.pk) and done.finished_at
    assert (done.log_size, done.log.name) == (0, "")  # printed nothing: no log file stored
    assert logs.read_log(done) == (b"", 0)


def test_a_result_with_a_nul_character_fails_clearly_instead_of_crashing(make_job):
    job = make_job("def main(data):\n    return {'text': 'a\\x00b'}\n")
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    assert run.status == Status.FAILED
    assert run.error == verdict.NUL_IN_RESULT


def test_an_error_message_with_a_nul_character_is_stored(make_job):
    job = make_job("def main(data):\n    raise ValueError('bad\\x00byte')\n")
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    assert run.status == Status.FAILED
    assert run.error == "ValueError: bad\\0byte"
