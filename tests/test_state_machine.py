"""Invariant 2: state only moves forward, by conditional updates."""

import pytest

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import state


@pytest.fixture
def queued(make_job):
    job = make_job()
    return Execution.objects.create(job=job, trigger=Trigger.API)


def test_it_claims_a_queued_run_once(queued):
    assert state.claim(queued.pk, "w1") is True
    assert state.claim(queued.pk, "w2") is False
    queued.refresh_from_db()
    assert queued.status == Status.RUNNING
    assert queued.worker == "w1"


def test_a_finished_run_cannot_be_finished_again(queued):
    state.claim(queued.pk, "w1")
    assert state.finish(queued.pk, Status.SUCCEEDED, exit_code=0) is True
    assert state.finish(queued.pk, Status.FAILED, error="late") is False
    queued.refresh_from_db()
    assert queued.status == Status.SUCCEEDED
    assert queued.error == ""
    assert queued.finished_at is not None


def test_a_final_run_cannot_be_claimed(queued):
    assert state.move(queued.pk, Status.QUEUED, Status.CANCELLED) is True
    assert state.claim(queued.pk, "w1") is False


def test_it_refuses_a_backward_transition(queued):
    with pytest.raises(ValueError):
        state.move(queued.pk, Status.SUCCEEDED, Status.RUNNING)
