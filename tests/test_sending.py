"""One send path: every way a run is sent stamps ``sent_at`` before publishing, a failed
publish clears it, and a broker error never fails the caller."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from dramatiq.errors import ConnectionClosed

from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.runs import concurrency, dispatch, retries, sending, state
from scripts_app.scheduling import firing, recovery

FAIL = "def main(data):\n    raise RuntimeError('no')\n"


@pytest.fixture
def published(monkeypatch):
    """(execution id, queue, delay, sent_at of its row as the message goes out)."""
    calls = []

    def publish(execution_id, queue="default", *, delay_ms=None, priority=0):
        stamp = Execution.objects.filter(pk=execution_id).values_list("sent_at", flat=True)
        calls.append((execution_id, queue, delay_ms, stamp.get()))

    monkeypatch.setattr(sending, "publish", publish)
    return calls


@pytest.fixture
def broker_down(monkeypatch):
    def publish(execution_id, queue="default", *, delay_ms=None, priority=0):
        raise ConnectionClosed(OSError("broker unreachable"))

    monkeypatch.setattr(sending, "publish", publish)


def stamped_before_publishing(calls) -> bool:
    return bool(calls) and all(sent_at is not None for *_, sent_at in calls)


def queued(job, **fields) -> Execution:
    return dispatch.trigger(job, trigger=Trigger.API, send=False, **fields)


def test_the_message_is_addressed_to_the_actor_by_name():
    import scripts_app.tasks

    message = sending.message(42, "heavy")
    assert (message.actor_name, message.queue_name, message.args) == (
        "run_execution",
        "heavy",
        (42,),
    )
    assert scripts_app.tasks.run_execution.actor_name == sending.ACTOR_NAME


def test_a_trigger_is_stamped_before_it_is_published(transactional_db, make_job, published):
    run = dispatch.trigger(make_job(queue="heavy"), trigger=Trigger.API)
    assert published == [(run.pk, "heavy", None, published[0][3])]
    assert stamped_before_publishing(published)


def test_a_retry_is_stamped_before_its_delayed_message_is_published(
    transactional_db, make_job, published
):
    job = make_job(FAIL, max_retries=1, retry_backoff=60)
    failed = queued(job)
    state.claim(failed.pk, "w:1")
    state.finish(failed.pk, Status.FAILED, error="no")
    retry = retries.schedule_retry(Execution.objects.select_related("job").get(pk=failed.pk))
    assert [pk for pk, *_ in published] == [retry.pk]
    assert 55_000 < published[0][2] <= 60_000
    assert stamped_before_publishing(published)


def test_a_scheduler_batch_is_stamped_before_it_is_published(transactional_db, make_job, published):
    jobs = [make_job(slug=f"every{i}", cron="* * * * *") for i in range(3)]
    due = timezone.now().replace(second=0, microsecond=0)
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(next_run_at=due)
    assert firing.fire_due(due + timedelta(seconds=1)).runs == 3
    assert len(published) == 3
    assert stamped_before_publishing(published)


def test_the_next_waiting_run_is_stamped_before_it_is_published(
    transactional_db, make_job, published
):
    job = make_job(max_concurrency=1)
    first, waiting = queued(job), queued(job)
    assert concurrency.claim(first.pk, "w:1")
    state.finish(first.pk, Status.SUCCEEDED)
    assert concurrency.send_next(job) == 1
    assert [pk for pk, *_ in published] == [waiting.pk]
    assert stamped_before_publishing(published)


def test_a_resend_is_stamped_before_it_is_published(transactional_db, make_job, published):
    run = queued(make_job())
    Execution.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert recovery.resend_stale_queued() == 1
    assert [pk for pk, *_ in published] == [run.pk]
    assert stamped_before_publishing(published)


def test_a_broker_error_leaves_every_path_queued_and_unstamped(
    transactional_db, make_job, broker_down
):
    job = make_job(max_concurrency=5)
    triggered = dispatch.trigger(job, trigger=Trigger.API)
    with transaction.atomic():
        in_transaction = dispatch.trigger(job, trigger=Trigger.API)
    stale = queued(job)
    Execution.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert recovery.resend_stale_queued() == 0
    assert concurrency.send_next(job) == 0
    rows = Execution.objects.filter(pk__in=[triggered.pk, in_transaction.pk, stale.pk])
    assert set(rows.values_list("status", "sent_at")) == {(Status.QUEUED, None)}


def test_an_error_that_is_not_the_brokers_propagates_after_clearing_the_stamps(
    transactional_db, make_job, monkeypatch
):
    runs = [queued(make_job(slug=f"j{i}")) for i in range(2)]

    def broken(execution_id, queue="default", *, delay_ms=None, priority=0):
        raise TypeError("a bug")

    monkeypatch.setattr(sending, "publish", broken)
    with pytest.raises(TypeError):
        sending.send([(run.pk, run.queue) for run in runs])
    assert list(Execution.objects.filter(sent_at__isnull=False)) == []
