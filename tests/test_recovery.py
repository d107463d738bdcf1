"""Invariants 3 and 4: nothing stays running forever; queued runs are re-sent."""

from datetime import timedelta

import pytest
from django.utils import timezone
from dramatiq.errors import ConnectionClosed

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import state
from scripts_app.scheduling import recovery


@pytest.fixture
def run(make_job):
    return Execution.objects.create(job=make_job(), trigger=Trigger.API)


def test_it_fails_a_running_run_whose_heartbeat_stopped(run):
    state.claim(run.pk, "gone:1")
    Execution.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert recovery.reap_lost_runs(timedelta(seconds=30)) == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.error.startswith("worker lost")
    assert run.finished_at is not None


def test_it_leaves_a_run_with_a_fresh_heartbeat_alone(run):
    state.claim(run.pk, "alive:1")
    assert recovery.reap_lost_runs(timedelta(seconds=30)) == []
    run.refresh_from_db()
    assert run.status == Status.RUNNING


def test_it_resends_a_queued_run_whose_message_may_be_lost(run, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "scripts_app.runs.sending.publish",
        lambda pk, queue="default", delay_ms=None, priority=0: sent.append(pk),
    )
    old = timezone.now() - timedelta(minutes=2)
    Execution.objects.filter(pk=run.pk).update(created_at=old, sent_at=old)
    assert recovery.resend_stale_queued(timedelta(seconds=30)) == 1
    assert sent == [run.pk]
    run.refresh_from_db()
    assert run.sent_at > old


def test_it_does_not_resend_a_fresh_or_finished_run(run, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "scripts_app.runs.sending.publish",
        lambda pk, queue="default", delay_ms=None, priority=0: sent.append(pk),
    )
    Execution.objects.filter(pk=run.pk).update(sent_at=timezone.now())
    assert recovery.resend_stale_queued(timedelta(seconds=30)) == 0
    state.move(run.pk, Status.QUEUED, Status.CANCELLED)
    Execution.objects.filter(pk=run.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    assert recovery.resend_stale_queued(timedelta(seconds=30)) == 0
    assert sent == []


def test_a_resend_that_fails_keeps_the_run_queued_for_the_next_tick(run, monkeypatch):
    def broker_down(pk, queue="default", delay_ms=None, priority=0):
        raise ConnectionClosed(OSError("broker unreachable"))

    monkeypatch.setattr("scripts_app.runs.sending.publish", broker_down)
    Execution.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert recovery.resend_stale_queued(timedelta(seconds=30)) == 0
    run.refresh_from_db()
    assert run.status == Status.QUEUED and run.sent_at is None
