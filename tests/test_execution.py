"""A run on the worker: claim, run, store log/result/artifacts, final status."""

import time

import dramatiq
import pytest
from django.core.files.storage import default_storage

from scripts_app.models import Execution, Status, Trigger
from scripts_app.services import dispatch, execution
from scripts_app.tasks import run_execution

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
    run = execution.execute(dispatch.trigger(job, params={"n": 4}, trigger=Trigger.CLI, send=False).pk)
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


def test_a_duplicate_message_does_not_run_the_script_twice(worker, make_job, tmp_path):
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
    from scripts_app.services.logs import read_log

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
