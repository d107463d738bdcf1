"""Deleting old runs with their logs and output files, in batches, in constant memory.

``manage.py purgeruns --older-than 30d`` does it by hand; with
PARSEQ_RETENTION_DAYS set, the scheduler does it once a day (``purge_step``).
Only finished runs are deleted; queued and running ones are never touched.
"""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from scripts_app.models import FINAL_STATUSES, Artifact, Execution
from scripts_app.observability import tallies

logger = logging.getLogger(__name__)

BATCH = 500
AGE_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` → a timedelta. Raises ValueError."""
    match = AGE_RE.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not an age like 30d, 12h, 90m, 2w or 45s")
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"{text!r}: the age must be more than zero")
    return timedelta(**{UNITS[unit]: amount})


def finished_before(cutoff: datetime) -> QuerySet[Execution]:
    return Execution.objects.filter(status__in=FINAL_STATUSES, created_at__lt=cutoff)


def delete_executions(queryset: QuerySet[Execution], batch_size: int = BATCH) -> int:
    """Delete the executions in ``queryset`` with their stored log and artifacts.

    Works through the rows ``batch_size`` at a time by primary key, so memory
    stays flat however many there are. Returns how many executions went.
    """
    deleted = 0
    last_pk = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        last_pk = ids[-1]
        names = [n for n in Execution.objects.filter(pk__in=ids).values_list("log", flat=True) if n]
        names += list(Artifact.objects.filter(execution_id__in=ids).values_list("file", flat=True))
        with transaction.atomic():
            tallies.fold(Execution.objects.filter(pk__in=ids))  # counters never go down
            count, _ = Execution.objects.filter(pk__in=ids).delete()
        # Files go after the rows: a crash in between leaves stray files, never a
        # run whose log or artifacts are missing.
        for name in names:
            default_storage.delete(name)
        _remove_empty_run_dirs(ids)
        deleted += len(ids)


def _remove_empty_run_dirs(ids: list[int]) -> None:
    """On local disk, drop the emptied ``executions/<id>/`` folders (S3 has no folders)."""
    try:
        root = default_storage.path("executions")
    except NotImplementedError:
        return
    for execution_id in ids:
        top = os.path.join(root, str(execution_id))
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:  # not empty (or already gone): leave it
                pass


def purge_older_than(age: timedelta, batch_size: int = BATCH) -> int:
    return delete_executions(finished_before(timezone.now() - age), batch_size)


_last_purge: float | None = None


def purge_step() -> int:
    """Scheduler step: with PARSEQ_RETENTION_DAYS set, purge once a day per scheduler."""
    global _last_purge
    days = settings.PARSEQ_RETENTION_DAYS
    if not days:
        return 0
    now = time.monotonic()
    if _last_purge is not None and now - _last_purge < 86400:
        return 0
    _last_purge = now
    count = purge_older_than(timedelta(days=days))
    if count:
        logger.info("retention: deleted %s runs older than %s days", count, days)
    return count
