"""The in-process broker: the worker relays queued runs from the database."""

import time

import dramatiq
from dramatiq import Worker

import scripts_app.tasks  # noqa: F401  (declares the actor, as rundramatiq does)
from scripts_app.broker import LocalBroker
from scripts_app.models import Status, Trigger
from scripts_app.runs import dispatch
from scripts_app.worker.middleware import LocalRelay


def test_a_process_without_a_consumer_drops_the_message():
    broker = LocalBroker()
    broker.declare_queue("default")
    message = dramatiq.Message(
        queue_name="default", actor_name="x", args=(1,), kwargs={}, options={}
    )
    broker.enqueue(message)
    assert broker.queues["default"].qsize() == 0


def test_the_relay_feeds_queued_runs_to_the_worker_once(transactional_db, make_job, monkeypatch):
    job = make_job("def main(data):\n    return 'relayed'\n")
    # Recorded as queued but never sent, as from a web process in embedded mode.
    run = dispatch.trigger(job, trigger=Trigger.HTTP, send=False)
    broker = dramatiq.get_broker()
    relay = next(m for m in broker.middleware if isinstance(m, LocalRelay))
    worker = Worker(broker, worker_threads=1)
    worker.start()
    try:
        assert relay.pump() == 1
        assert relay.pump() == 0  # already in flight: not sent again
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.is_final:
                break
            time.sleep(0.05)
    finally:
        worker.stop()
        broker.flush_all()
    assert run.status == Status.SUCCEEDED
    assert run.result == "relayed"


def test_a_second_worker_on_the_same_broker_relays_too(transactional_db, make_job):
    # The broker (and its relay middleware) outlives a worker: one that stopped must not
    # leave the next worker's relay stopped before it starts.
    broker = dramatiq.get_broker()
    first = Worker(broker, worker_threads=1)
    first.start()
    first.stop()
    job = make_job("def main(data):\n    return 'relayed again'\n")
    run = dispatch.trigger(job, trigger=Trigger.HTTP, send=False)  # as from another process
    second = Worker(broker, worker_threads=1)
    second.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not run.is_final:
            time.sleep(0.05)
            run.refresh_from_db()
    finally:
        second.stop()
        broker.flush_all()
    assert (run.status, run.result) == (Status.SUCCEEDED, "relayed again")
