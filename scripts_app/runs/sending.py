"""The one way a run's message leaves Parseq.

The message is only a pointer (the execution id), addressed to the worker's actor by
its name, so no sender imports the actor (``worker/actor.py``: nothing imports it).
Every send goes through ``send`` — a trigger, a retry (delayed), a scheduler batch,
the next waiting run, a re-send — with one rule:

- ``sent_at`` is stamped *before* publishing: a worker that consumes a message
  without running it (held back by a cap, or stopping) clears the stamp, and a stamp
  landing after that would overwrite it, hiding the run from the re-send for the long
  "confirmed" window (PARSEQ_RESEND_SENT_AFTER_SECONDS);
- a publish that fails clears the stamp again (of every run not sent yet);
- a ``BrokerError`` (the broker is down) is logged and stops there: those runs stay
  queued for the scheduler's re-send, and the caller never fails. Any other error is
  a bug and propagates, after the stamps are cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dramatiq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from dramatiq.errors import BrokerError
from dramatiq.message import Message

from scripts_app.models import Execution, Status

logger = logging.getLogger(__name__)

ACTOR_NAME = "run_execution"  # worker/actor.py declares the actor under this name
DEFAULT_QUEUE = "default"

# (execution id, queue) or (execution id, queue, priority): a run's priority (-100…100,
# Django's task API) orders RabbitMQ's queue when PARSEQ_BROKER_MAX_PRIORITY is set.
Pointer = tuple[int, str] | tuple[int, str, int]


def pointer(execution: Execution) -> Pointer:
    return (execution.pk, execution.queue, execution.priority)


def delay_until(not_before) -> int | None:
    """Milliseconds to hold a run's message back until ``not_before``; None when due."""
    if not_before is None:
        return None
    delay_ms = int((not_before - timezone.now()).total_seconds() * 1000)
    return delay_ms if delay_ms > 0 else None


def message(execution_id: int, queue: str = DEFAULT_QUEUE, priority: int = 0) -> Message:
    """The message the actor would build for ``run_execution(execution_id)`` on ``queue``."""
    options = {}
    levels = settings.PARSEQ_BROKER_MAX_PRIORITY
    if levels:  # -100…100 onto RabbitMQ's 0…levels; the default (0) is the middle
        options["broker_priority"] = round((max(-100, min(100, priority)) + 100) * levels / 200)
    return Message(
        queue_name=queue, actor_name=ACTOR_NAME, args=(execution_id,), kwargs={}, options=options
    )


def publish(
    execution_id: int,
    queue: str = DEFAULT_QUEUE,
    *,
    delay_ms: int | None = None,
    priority: int = 0,
) -> None:
    """Put the run's message on the broker, stamping nothing; raises the broker's errors.

    ``send`` is the way to send a run; the worker's local relay, which feeds its own
    in-process broker from the database, publishes directly."""
    dramatiq.get_broker().enqueue(message(execution_id, queue, priority), delay=delay_ms)


def send(runs: Sequence[Pointer], *, delay_ms: int | None = None, stamped: bool = False) -> int:
    """Send runs in order, by the rule above; how many were published.

    ``stamped``: the rows carry their ``sent_at`` already (the trigger's INSERT). Safe to
    repeat: the worker's claim lets only one delivery run."""
    if not runs:
        return 0
    if not stamped:
        mark_sent([run[0] for run in runs])
    for done, (execution_id, queue, *priority) in enumerate(runs):
        try:
            publish(execution_id, queue, delay_ms=delay_ms, priority=priority[0] if priority else 0)
        except BaseException as exc:
            mark_unsent([run[0] for run in runs[done:]])
            if not isinstance(exc, BrokerError):
                raise
            left = len(runs) - done
            logger.warning("broker unavailable; %d run(s) stay queued for re-send: %s", left, exc)
            return done
    return len(runs)


def send_on_commit(runs: Sequence[Pointer], *, delay_ms: int | None = None) -> None:
    """``send`` once the caller's transaction commits (nothing if it rolls back)."""
    runs = list(runs)
    transaction.on_commit(lambda: send(runs, delay_ms=delay_ms))


def mark_sent(execution_ids: list[int]) -> None:
    Execution.objects.filter(pk__in=execution_ids).update(sent_at=timezone.now())


def mark_unsent(execution_ids: list[int]) -> None:
    """These runs have no message in the broker: the scheduler's re-send will send them."""
    Execution.objects.filter(pk__in=execution_ids, status=Status.QUEUED).update(sent_at=None)
