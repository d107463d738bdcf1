"""Riding out a database that goes away for a while (a restart, a failover).

A worker must not lose a run because PostgreSQL restarted under it: its writes
(claim, heartbeat, final state) are retried with backoff for
``PARSEQ_DB_RETRY_SECONDS``. Every write retried here is a conditional update or
an idempotent upsert, so a retry after an ambiguous failure changes nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_DB_ERRORS = (OperationalError, InterfaceError)
FIRST_DELAY = 0.1
MAX_DELAY = 5.0


def reset_connection() -> None:
    """Drop this thread's broken connection; Django opens a new one on next use."""
    try:
        connection.close()
    except DatabaseError:
        pass


def retry_db(
    fn: Callable[..., T],
    *args,
    what: str,
    budget: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs,
) -> T:
    """``fn(*args, **kwargs)``, retried on connection errors until ``budget`` seconds pass."""
    if budget is None:
        budget = settings.PARSEQ_DB_RETRY_SECONDS
    deadline = time.monotonic() + budget
    delay = FIRST_DELAY
    while True:
        try:
            return fn(*args, **kwargs)
        except RETRYABLE_DB_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                logger.error("%s: database unreachable for %.0f s; giving up", what, budget)
                raise
            logger.warning("%s: database error (%s); retrying in %.1f s", what, exc, delay)
            reset_connection()
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY)


class Heartbeat:
    """When the run's heartbeat was last written; the supervisor's own beats
    ``touch()`` it, so the background thread does not write a second one."""

    def __init__(self):
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()

    def due(self, interval: float) -> bool:
        return time.monotonic() - self.last >= interval


@contextmanager
def heartbeat_while(execution_id: int, every: float | None = None) -> Iterator[Heartbeat]:
    """Keep a running execution's heartbeat fresh during slow work outside the
    supervisor loop (fetching inputs, uploading outputs, waiting for storage), so
    the reaper does not take a live run for a lost one."""
    from scripts_app.models import Execution, Status

    interval = settings.PARSEQ_HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()
    heartbeat = Heartbeat()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                if not heartbeat.due(interval):  # the supervisor beat meanwhile
                    continue
                try:
                    Execution.objects.filter(pk=execution_id, status=Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                    heartbeat.touch()
                except DatabaseError as exc:
                    logger.warning("execution %s: heartbeat skipped: %s", execution_id, exc)
                    reset_connection()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"parseq-heartbeat-{execution_id}", daemon=True)
    thread.start()
    try:
        yield heartbeat
    finally:
        stop.set()
        thread.join()
