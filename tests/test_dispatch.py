"""Invariant 1: a run is recorded before it is sent; the message is only a pointer."""

import pytest
from django.db import transaction

from scripts_app.errors import InvalidParams
from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch


@pytest.fixture
def sent(monkeypatch):
    calls = []

    def fake_publish(execution_id, queue="default", delay_ms=None, priority=0):
        # At publish time the run must already be committed and visible.
        calls.append((execution_id, queue, Execution.objects.filter(pk=execution_id).exists()))

    monkeypatch.setattr("scripts_app.runs.sending.publish", fake_publish)
    return calls


def test_the_message_is_sent_after_commit_and_carries_only_the_id(transactional_db, make_job, sent):
    job = make_job(queue="heavy")
    with transaction.atomic():
        run = dispatch.trigger(job, params={"a": 1}, trigger=Trigger.API)
        assert sent == []  # not before the commit
    assert sent == [(run.pk, "heavy", True)]
    run.refresh_from_db()
    assert run.status == Status.QUEUED
    assert run.sent_at is not None


def test_a_rolled_back_trigger_sends_nothing(transactional_db, make_job, sent):
    job = make_job()
    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch.trigger(job, trigger=Trigger.API)
        raise RuntimeError("the caller's transaction fails")
    assert sent == []
    assert not Execution.objects.exists()


def test_invalid_params_queue_nothing(transactional_db, make_job, sent):
    job = make_job(
        params_schema={
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer"}},
        }
    )
    with pytest.raises(InvalidParams) as info:
        dispatch.trigger(job, params={"n": "five"}, trigger=Trigger.API)
    assert info.value.errors == [{"path": "$.n", "message": "'five' is not of type 'integer'"}]
    with pytest.raises(InvalidParams):
        dispatch.trigger(job, params=[1, 2], trigger=Trigger.API)
    assert sent == [] and not Execution.objects.exists()


def test_defaults_are_overlaid_by_the_request(transactional_db, make_job, sent):
    job = make_job(default_params={"a": 1, "b": 2})
    run = dispatch.trigger(job, params={"b": 3}, trigger=Trigger.API)
    assert run.params == {"a": 1, "b": 3}
    assert Execution.objects.get(pk=run.pk).params == {"a": 1, "b": 3}
    assert sent == [(run.pk, "default", True)]


def test_a_worker_that_drops_the_message_at_once_leaves_the_run_marked_unsent(
    transactional_db, make_job, monkeypatch
):
    # A stopping worker may consume the message and clear sent_at before send() returns;
    # that must stick, or the re-send would wait for the long "confirmed" window.
    from scripts_app.worker import execution

    def consumed_and_dropped(execution_id, queue="default", delay_ms=None, priority=0):
        execution._mark_unsent(execution_id)

    monkeypatch.setattr("scripts_app.runs.sending.publish", consumed_and_dropped)
    run = dispatch.trigger(make_job(), trigger=Trigger.API)
    run.refresh_from_db()
    assert run.status == Status.QUEUED
    assert run.sent_at is None


def test_a_failed_publish_leaves_the_run_unsent(transactional_db, make_job, monkeypatch):
    from dramatiq.errors import ConnectionClosed

    def broker_down(execution_id, queue="default", delay_ms=None, priority=0):
        raise ConnectionClosed(OSError("down"))

    monkeypatch.setattr("scripts_app.runs.sending.publish", broker_down)
    run = dispatch.trigger(make_job(), trigger=Trigger.API)
    run.refresh_from_db()
    assert run.status == Status.QUEUED and run.sent_at is None
