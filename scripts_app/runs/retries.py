"""Automatic retries of failed runs, with exponential backoff.

A job with ``max_retries = N`` gets up to N more attempts after a run ends
``failed`` — a failing script, a limit it ran into, or a worker that died under
it (the reaper's "worker lost"). Each attempt is its own execution: ``attempt``
counts from 1, ``retry_of`` points at the first attempt, ``trigger`` is
"retry", and ``not_before`` holds it back for ``retry_backoff * 2**(attempt-1)``
seconds. It runs the same script version and params as the attempt it repeats.

Not retried: cancelled runs (someone meant it), timed-out runs (the next attempt
would most likely hit the same timeout, holding a worker for the whole of it),
skipped runs, and invalid params (refused before anything is queued).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from scripts_app.models import Execution, Status
from scripts_app.runs import records, sending

logger = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({Status.FAILED})


def backoff(base_seconds: int, attempt: int) -> timedelta:
    """The wait before the attempt after ``attempt``: base, 2×base, 4×base, …"""
    return timedelta(seconds=base_seconds * 2 ** (attempt - 1))


def should_retry(execution: Execution) -> bool:
    return (
        execution.status in RETRIED_STATUSES
        and execution.cancel_requested_at is None
        and execution.attempt <= execution.job.max_retries
    )


def schedule_retry(execution: Execution) -> Execution | None:
    """Queue the next attempt of a run that ended ``failed``; None when none is due.

    Safe to call twice for the same run: the failed row is locked and an
    existing next attempt is returned instead of a second one.
    """
    if not should_retry(execution):
        return None
    first_id = execution.retry_of_id or execution.pk
    with transaction.atomic():
        Execution.objects.select_for_update().filter(pk=execution.pk).first()
        existing = Execution.objects.filter(
            retry_of_id=first_id, attempt=execution.attempt + 1
        ).first()
        if existing:
            return existing
        due = timezone.now() + backoff(execution.job.retry_backoff, execution.attempt)
        retry = records.next_attempt(execution, not_before=due)
        retry.save(force_insert=True)
        transaction.on_commit(lambda: send_when_due(retry))
    logger.info(
        "execution %s failed; attempt %s is #%s at %s",
        execution.pk,
        retry.attempt,
        retry.pk,
        due.isoformat(),
    )
    return retry


def send_when_due(retry: Execution) -> None:
    """Send the retry as a delayed message. If that fails, the local relay (embedded
    mode) or the scheduler's re-send of queued runs sends it once it is due."""
    delay_ms = max(int((retry.not_before - timezone.now()).total_seconds() * 1000), 0)
    sending.send([sending.pointer(retry)], delay_ms=delay_ms)
