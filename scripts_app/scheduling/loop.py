"""The scheduler's tick, as a list of small steps; ``runscheduler`` runs it in a loop.

Each step does one unit of work and is safe to run from several schedulers at once
(see ``firing``). The clock is a parameter (``tick(now=…)``), so tests never sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from scripts_app.models import Job
from scripts_app.runs import notify
from scripts_app.scheduling import recovery, retention
from scripts_app.scheduling.firing import Fired, fire_due

logger = logging.getLogger("scripts_app.scheduler")


def next_due() -> datetime | None:
    """The earliest ``next_run_at`` of an enabled job: the idle loop's only query,
    an index-only read of ``job_due_idx``."""
    return (
        Job.objects.filter(enabled=True, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values_list("next_run_at", flat=True)
        .first()
    )


def resend_stale(now: datetime) -> int:
    return recovery.resend_stale_queued()


def reap_lost(now: datetime) -> list[int]:
    return recovery.reap_lost_runs()


def retry_notifications(now: datetime) -> int:
    """Re-send run e-mails that failed while the mail server was down."""
    return notify.retry_pending(now)


def purge_old_runs(now: datetime) -> int:
    """Once a day, delete runs older than PARSEQ_RETENTION_DAYS (0: never)."""
    return retention.purge_step()


# Each step takes the tick's ``now``; append more.
STEPS: list[Callable[[datetime], Any]] = [
    fire_due,
    resend_stale,
    reap_lost,
    retry_notifications,
    purge_old_runs,
]


class TickResults(dict[str, Any]):
    """Each step's result by name; a step that failed has its exception instead."""

    @property
    def failed(self) -> dict[str, Exception]:
        return {name: value for name, value in self.items() if isinstance(value, Exception)}

    @property
    def fired(self) -> Fired:
        """What firing did (nothing, when that step failed)."""
        value = self.get(fire_due.__name__)
        return value if isinstance(value, Fired) else Fired()


def tick(now: datetime | None = None) -> TickResults:
    """Run every step once; returns each step's result (or its exception) by name.

    Steps are independent: one that fails (say, a job whose script cannot be read)
    must not starve the others, above all the reaper and the re-sender. It is
    logged and reported, and never counts as a failure of the loop.
    """
    now = now or timezone.now()
    results = TickResults()
    for step in STEPS:
        try:
            results[step.__name__] = step(now)
        except Exception as exc:  # logged with its traceback; the next tick tries again
            logger.exception("scheduler step %s failed", step.__name__)
            results[step.__name__] = exc
    return results


def run(
    stop: threading.Event,
    *,
    clock: Callable[[], datetime] = timezone.now,
    poll: float = 1.0,
    housekeeping: float = 5.0,
) -> None:
    """Tick whenever a job is due (and every ``housekeeping`` seconds), until ``stop``.

    Between ticks it sleeps until the next due time but at most ``poll`` seconds,
    re-reading the earliest ``next_run_at`` (one indexed query), so an admin edit
    that moves a job earlier is noticed within ``poll``.
    """
    last_tick = float("-inf")
    failures = 0
    while not stop.is_set():
        try:
            now = clock()
            due = next_due()
            if (due is not None and due <= now) or time.monotonic() - last_tick >= housekeeping:
                fired = tick(now).fired
                last_tick = time.monotonic()
                if fired.jobs:
                    logger.info(fired.summary())
                due = next_due()
            failures = 0
            wait = poll if due is None else (due - clock()).total_seconds()
        except Exception:
            # The loop's own queries failed (a database restart): back off, then retry.
            failures += 1
            logger.exception("scheduler tick failed (%d in a row)", failures)
            connection.close()
            wait = min(30.0, poll * 2**failures)
        # Never a hot loop: a due job another scheduler holds is retried shortly.
        stop.wait(wait if failures else max(0.01, min(wait, poll)))
