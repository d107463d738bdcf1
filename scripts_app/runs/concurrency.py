"""Caps on how many runs execute at once, enforced in the database at claim time.

Two caps: ``PARSEQ_MAX_RUNNING`` for the whole installation (0 = none) and a
job's ``max_concurrency`` (a job whose overlap policy is "queue" has a cap of
one). A claim under a cap takes one database-wide lock (a transaction-scoped
advisory lock on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers
anyway), counts what is running and claims only a run that fits — so the caps
hold across any number of worker processes and machines.

A run over a cap simply stays ``queued``. Runs start oldest first: a run may
be claimed only if it is among the runs that would be picked, in order, for
the free slots. Whoever frees a slot sends the next runs (``send_next``); the
local relay and the scheduler's re-send only ever send runs that fit, so
waiting runs cost nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from scripts_app.models import Execution, Job, OverlapPolicy, Status
from scripts_app.runs import sending, state

logger = logging.getLogger(__name__)

# Any constant works; it names Parseq's claim lock among other advisory locks.
CLAIM_LOCK_KEY = 0x5041525345510001
# How many of the oldest queued runs are considered when filling free slots.
SCAN = 1000


def job_cap(max_concurrency: int | None, overlap_policy: str) -> int | None:
    """The effective per-job cap (None: no cap)."""
    caps = [c for c in (max_concurrency, 1 if overlap_policy == OverlapPolicy.QUEUE else None) if c]
    return min(caps) if caps else None


def is_capped(job: Job) -> bool:
    return bool(settings.PARSEQ_MAX_RUNNING) or job_cap(job.max_concurrency, job.overlap_policy)


def due(now: datetime) -> Q:
    return Q(not_before__isnull=True) | Q(not_before__lte=now)


def startable(
    limit: int = 100, now: datetime | None = None, job_id: int | None = None
) -> list[tuple[int, str, int]]:
    """(id, queue, priority) of the queued runs (of one job, if given) that fit the free slots now,
    highest priority first, then oldest first."""
    now = now or timezone.now()
    running = dict(
        Execution.objects.filter(status=Status.RUNNING)
        .values("job_id")
        .annotate(n=Count("id"))
        .values_list("job_id", "n")
    )
    free = None
    if settings.PARSEQ_MAX_RUNNING:
        free = settings.PARSEQ_MAX_RUNNING - sum(running.values())
        if free <= 0:
            return []
        limit = min(limit, free)
    rows = Execution.objects.filter(status=Status.QUEUED)
    if job_id is not None:
        rows = rows.filter(job_id=job_id)
    rows = (
        rows.filter(due(now))
        .order_by("-priority", "created_at", "id")
        .values_list(
            "id", "queue", "priority", "job_id", "job__max_concurrency", "job__overlap_policy"
        )
    )
    picked: list[tuple[int, str, int]] = []
    for execution_id, queue, priority, job_id, max_concurrency, overlap in rows[: max(SCAN, limit)]:
        cap = job_cap(max_concurrency, overlap)
        if cap is not None and running.get(job_id, 0) >= cap:
            continue
        picked.append((execution_id, queue, priority))
        running[job_id] = running.get(job_id, 0) + 1
        if len(picked) >= limit:
            break
    return picked


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])


def claim(execution_id: int, worker: str, now: datetime | None = None) -> bool:
    """queued → running, if the run is due and fits the caps; False leaves it queued."""
    now = now or timezone.now()
    row = (
        Execution.objects.filter(pk=execution_id, status=Status.QUEUED)
        .filter(due(now))
        .values_list("job__max_concurrency", "job__overlap_policy")
        .first()
    )
    if row is None:
        return False
    return _claim_fitting(execution_id, row, worker, now)


def claim_loaded(execution: Execution, worker: str, now: datetime | None = None) -> bool:
    """``claim`` for a run already loaded with its job: one query fewer."""
    now = now or timezone.now()
    if execution.status != Status.QUEUED or (execution.not_before or now) > now:
        return False
    caps = (execution.job.max_concurrency, execution.job.overlap_policy)
    return _claim_fitting(execution.pk, caps, worker, now)


def _claim_fitting(execution_id: int, caps: tuple, worker: str, now: datetime) -> bool:
    if not settings.PARSEQ_MAX_RUNNING and job_cap(*caps) is None:
        return state.claim(execution_id, worker, now)
    with transaction.atomic():
        _lock()
        if execution_id not in {run[0] for run in startable(limit=SCAN, now=now)}:
            logger.info("execution %s waits for a free slot", execution_id)
            return False
        return state.claim(execution_id, worker, now)


def send_next(job: Job) -> int:
    """Send the runs that a slot freed by ``job``'s run lets start. Safe to repeat."""
    if not is_capped(job):
        return 0
    # With only a per-job cap, only this job's waiting runs can have been held back.
    # Broker away: the scheduler's re-send catches up.
    return sending.send(startable(job_id=None if settings.PARSEQ_MAX_RUNNING else job.pk))
