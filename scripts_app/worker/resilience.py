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


class _Pulse:
    """One thread per process beats for every run held in a slow step.

    Starting a thread per run cost more CPU than a no-op run's own work; one
    shared thread sleeps until the earliest held heartbeat is due and writes the
    due ones in a single statement.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.held: dict[Heartbeat, tuple[int, float]] = {}
        self.thread: threading.Thread | None = None

    def hold(self, heartbeat: Heartbeat, execution_id: int, interval: float) -> None:
        with self.lock:
            self.held[heartbeat] = (execution_id, interval)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="parseq-pulse", daemon=True)
                self.thread.start()
        self.changed.set()

    def release(self, heartbeat: Heartbeat) -> None:
        with self.lock:
            self.held.pop(heartbeat, None)

    def _run(self) -> None:
        while True:
            due, wait = self._due()
            if due:
                self._beat(due)
                continue
            self.changed.wait(wait)
            self.changed.clear()

    def _due(self) -> tuple[dict[int, Heartbeat], float | None]:
        """The heartbeats to write now, else how long until the next one is due."""
        now, due, wait = time.monotonic(), {}, None
        with self.lock:
            for heartbeat, (execution_id, interval) in self.held.items():
                left = heartbeat.last + interval - now
                if left <= 0:
                    due[execution_id] = heartbeat
                else:
                    wait = left if wait is None else min(wait, left)
        return due, wait

    def _beat(self, due: dict[int, Heartbeat]) -> None:
        from scripts_app.models import Execution, Status

        try:
            Execution.objects.filter(pk__in=list(due), status=Status.RUNNING).update(
                heartbeat_at=timezone.now()
            )
        except Exception as exc:  # whatever it is, this thread must live to beat again
            logger.warning("executions %s: heartbeat skipped: %r", sorted(due), exc)
        finally:
            # Beats here are rare (only slow steps between supervisor ticks): hold no
            # connection between them.
            reset_connection()
        for heartbeat in due.values():
            heartbeat.touch()


_PULSE = _Pulse()


@contextmanager
def heartbeat_while(execution_id: int, every: float | None = None) -> Iterator[Heartbeat]:
    """Keep a running execution's heartbeat fresh during slow work outside the
    supervisor loop (fetching inputs, uploading outputs, waiting for storage), so
    the reaper does not take a live run for a lost one."""
    interval = settings.PARSEQ_HEARTBEAT_SECONDS if every is None else every
    heartbeat = Heartbeat()
    _PULSE.hold(heartbeat, execution_id, interval)
    try:
        yield heartbeat
    finally:
        _PULSE.release(heartbeat)
