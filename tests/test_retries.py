"""Retries: failed and worker-lost runs get new attempts with exponential backoff,
each its own execution linked to the first; cancelled and timed-out runs do not."""

import time
from datetime import timedelta

from django.utils import timezone

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import concurrency, control, dispatch, retries, state
from scripts_app.scheduling import recovery
from scripts_app.worker import execution

FAIL = "def main(data):\n    raise RuntimeError('upstream down')\n"


def run_now(job, **fields):
    return execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False, **fields).pk)


def test_a_job_without_retries_is_not_retried(make_job):
    run = run_now(make_job(FAIL))
    assert run.status == Status.FAILED
    assert not Execution.objects.filter(retry_of=run).exists()


def test_a_successful_run_is_not_retried(make_job):
    run = run_now(make_job(max_retries=3))
    assert run.status == Status.SUCCEEDED
    assert Execution.objects.count() == 1


def test_a_timed_out_run_is_not_retried(make_job):
    run = run_now(make_job("import time\ntime.sleep(30)\n", timeout=1, max_retries=3))
    assert run.status == Status.TIMED_OUT
    assert Execution.objects.count() == 1


def test_a_cancelled_run_is_not_retried(make_job):
    job = make_job(FAIL, max_retries=3)
    queued = dispatch.trigger(job, trigger=Trigger.API, send=False)
    control.cancel(queued)
    assert retries.schedule_retry(Execution.objects.get(pk=queued.pk)) is None
    assert Execution.objects.count() == 1


def test_a_failed_run_is_retried_with_exponential_backoff(make_job):
    job = make_job(FAIL, max_retries=2, retry_backoff=30)
    first = run_now(job, params={"k": 1})
    second = Execution.objects.get(retry_of=first)
    assert (second.attempt, second.trigger, second.status) == (2, Trigger.RETRY, Status.QUEUED)
    assert second.params == {"k": 1}
    assert second.script_version_id == first.script_version_id
    wait = second.not_before - timezone.now()
    assert timedelta(seconds=25) < wait <= timedelta(seconds=30)

    Execution.objects.filter(pk=second.pk).update(not_before=timezone.now())
    second = execution.execute(second.pk)
    third = Execution.objects.get(retry_of=first, attempt=3)
    assert timedelta(seconds=55) < third.not_before - timezone.now() <= timedelta(seconds=60)

    Execution.objects.filter(pk=third.pk).update(not_before=timezone.now())
    assert execution.execute(third.pk).status == Status.FAILED
    assert Execution.objects.filter(retry_of=first).count() == 2  # max_retries reached


def test_a_retry_does_not_start_before_its_backoff(make_job):
    job = make_job(FAIL, max_retries=1, retry_backoff=60)
    first = run_now(job)
    retry = Execution.objects.get(retry_of=first)
    assert retry.pk not in {run[0] for run in concurrency.startable()}
    assert concurrency.claim(retry.pk, "w1") is False
    assert execution.execute(retry.pk) is None
    retry.refresh_from_db()
    assert retry.status == Status.QUEUED


def test_scheduling_a_retry_twice_makes_one(make_job):
    first = run_now(make_job(FAIL, max_retries=2))
    again = retries.schedule_retry(first)
    assert Execution.objects.filter(retry_of=first).count() == 1
    assert again.attempt == 2


def test_a_worker_lost_run_is_retried(make_job):
    job = make_job(FAIL, max_retries=1, retry_backoff=5)
    run = dispatch.trigger(job, trigger=Trigger.API, send=False)
    state.claim(run.pk, "dead-worker")
    Execution.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert recovery.reap_lost_runs() == [run.pk]
    retry = Execution.objects.get(retry_of=run)
    assert (retry.attempt, retry.status) == (2, Status.QUEUED)


FLAKY = """
from pathlib import Path
def main(data):
    counter = Path(data["counter"])
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    if n < 3:
        raise RuntimeError(f"attempt {n} failed")
    return {"attempts": n}
"""


def test_a_worker_retries_until_the_run_succeeds(make_job, worker, tmp_path, unsandboxed):
    job = make_job(FLAKY, max_retries=3, retry_backoff=1)
    first = dispatch.trigger(job, params={"counter": str(tmp_path / "n")}, trigger=Trigger.API)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        last = Execution.objects.filter(job=job).order_by("-attempt").first()
        if last.attempt == 3 and last.is_final:
            break
        time.sleep(0.1)
    attempts = list(Execution.objects.filter(job=job).order_by("attempt"))
    assert [(a.attempt, a.status) for a in attempts] == [
        (1, Status.FAILED),
        (2, Status.FAILED),
        (3, Status.SUCCEEDED),
    ]
    assert attempts[2].result == {"attempts": 3}
    assert all(a.retry_of_id == first.pk for a in attempts[1:])
    # Backoff doubles: 1 s before the second attempt, 2 s before the third.
    assert attempts[1].started_at - attempts[0].finished_at >= timedelta(seconds=1)
    assert attempts[2].started_at - attempts[1].finished_at >= timedelta(seconds=2)
