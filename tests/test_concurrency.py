"""Concurrency caps: a run over the global or per-job cap stays queued, is not
re-sent while it waits, and runs start oldest first when a slot frees."""

import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from scripts_app.models import Execution, OverlapPolicy, Status, Trigger
from scripts_app.runs import concurrency, dispatch
from scripts_app.scheduling import recovery


def queued(job, n=1):
    return [dispatch.trigger(job, trigger=Trigger.API, send=False) for _ in range(n)]


def status(run):
    run.refresh_from_db()
    return run.status


@pytest.mark.parametrize(
    ("max_concurrency", "overlap", "cap"),
    [
        (None, OverlapPolicy.ALLOW, None),
        (None, OverlapPolicy.SKIP, None),
        (0, OverlapPolicy.ALLOW, None),
        (3, OverlapPolicy.ALLOW, 3),
        (None, OverlapPolicy.QUEUE, 1),
        (3, OverlapPolicy.QUEUE, 1),
    ],
)
def test_the_job_cap_comes_from_max_concurrency_and_the_queue_policy(max_concurrency, overlap, cap):
    assert concurrency.job_cap(max_concurrency, overlap) == cap


def test_a_run_over_the_job_cap_stays_queued_and_is_not_resent(make_job):
    job = make_job(max_concurrency=1)
    first, second = queued(job, 2)
    assert concurrency.claim(first.pk, "w1") is True
    assert concurrency.claim(second.pk, "w2") is False
    assert status(second) == Status.QUEUED
    assert concurrency.startable() == []
    Execution.objects.filter(pk=second.pk).update(created_at=second.created_at.replace(year=2000))
    assert recovery.resend_stale_queued() == 0


def test_the_global_cap_holds_across_jobs(make_job, settings):
    settings.PARSEQ_MAX_RUNNING = 2
    a, b, c = (queued(make_job(slug=s))[0] for s in ("a", "b", "c"))
    assert concurrency.claim(a.pk, "w1") and concurrency.claim(b.pk, "w1")
    assert concurrency.claim(c.pk, "w2") is False
    assert concurrency.startable() == []
    Execution.objects.filter(pk=a.pk).update(status=Status.SUCCEEDED)
    assert concurrency.startable() == [(c.pk, "default", 0)]
    assert concurrency.claim(c.pk, "w2") is True


def test_a_queue_overlap_policy_runs_one_at_a_time(make_job):
    job = make_job(overlap_policy=OverlapPolicy.QUEUE)
    first, second = queued(job, 2)
    assert concurrency.claim(first.pk, "w1") is True
    assert concurrency.claim(second.pk, "w1") is False


def test_a_newer_run_does_not_overtake_an_older_waiting_one(make_job):
    job = make_job(max_concurrency=1)
    oldest, newer = queued(job, 2)
    assert concurrency.claim(newer.pk, "w1") is False
    assert concurrency.claim(oldest.pk, "w1") is True


def test_a_capped_job_does_not_hold_up_other_jobs(make_job, settings):
    settings.PARSEQ_MAX_RUNNING = 3
    capped = make_job(slug="capped", max_concurrency=1)
    running, waiting = queued(capped, 2)
    concurrency.claim(running.pk, "w1")
    other = queued(make_job(slug="other"))[0]
    assert concurrency.startable() == [(other.pk, "default", 0)]
    assert concurrency.claim(other.pk, "w1") is True
    assert status(waiting) == Status.QUEUED


def test_without_caps_every_due_run_is_claimable(make_job):
    runs = queued(make_job(), 3)
    assert all(concurrency.claim(r.pk, "w1") for r in reversed(runs))


def test_a_worker_runs_capped_runs_one_after_another_oldest_first(make_job, worker):
    job = make_job("import time\ndef main(data):\n    time.sleep(0.3)\n", max_concurrency=1)
    runs = [dispatch.trigger(job, trigger=Trigger.API) for _ in range(3)]
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and Execution.objects.filter(job=job, status__in=[Status.QUEUED, Status.RUNNING]).exists()
    ):
        assert Execution.objects.filter(job=job, status=Status.RUNNING).count() <= 1
        time.sleep(0.02)
    done = [Execution.objects.get(pk=r.pk) for r in runs]
    assert [r.status for r in done] == [Status.SUCCEEDED] * 3
    for earlier, later in zip(done, done[1:], strict=False):
        assert later.started_at >= earlier.finished_at


def test_a_foreground_cli_run_waits_for_a_free_slot(make_job, transactional_db):
    job = make_job(max_concurrency=1)
    busy = queued(job)[0]
    concurrency.claim(busy.pk, "elsewhere")

    def free_the_slot():
        Execution.objects.filter(pk=busy.pk).update(status=Status.SUCCEEDED)
        connection.close()

    timer = threading.Timer(1.5, free_the_slot)
    timer.start()
    started = time.monotonic()
    call_command("runjob", job.slug)  # exits 1 (SystemExit) unless the run succeeded
    timer.join()
    assert time.monotonic() - started >= 1.5
    assert Execution.objects.exclude(pk=busy.pk).get().status == Status.SUCCEEDED
