"""Keeping runs moving: re-send queued runs whose message may be lost, reap runs
whose worker died. The scheduler process calls these every tick."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from scripts_app.models import Execution, Status
from scripts_app.runs import concurrency, followups, sending, state
from scripts_app.tasks_backend import hooks

logger = logging.getLogger(__name__)
WORKER_LOST = "worker lost: no heartbeat for {seconds} s"


def resend_stale_queued(older_than: timedelta | None = None) -> int:
    """Re-send queued runs whose last send is older than ``older_than`` (or never happened).

    Covers a broker outage and a message dropped between commit and publish. A
    repeat is harmless: the worker's claim lets only one delivery run. By default a
    never-sent run waits ``PARSEQ_RESEND_AFTER_SECONDS``; one whose message the broker
    confirmed waits ``PARSEQ_RESEND_SENT_AFTER_SECONDS`` (it is most likely still
    queued there, behind others).
    """
    now = timezone.now()
    if older_than is None:
        cutoff = now - timedelta(seconds=settings.PARSEQ_RESEND_AFTER_SECONDS)
        sent_cutoff = now - timedelta(seconds=settings.PARSEQ_RESEND_SENT_AFTER_SECONDS)
    else:
        cutoff = sent_cutoff = now - older_than
    stale = (
        Execution.objects.filter(status=Status.QUEUED)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))
        .filter(Q(sent_at__isnull=True, created_at__lte=cutoff) | Q(sent_at__lte=sent_cutoff))
        .order_by("-priority", "created_at", "id")
        .values_list("id", "queue", "priority")[:500]
    )
    fits = {run[0] for run in concurrency.startable(limit=concurrency.SCAN)}
    # A run waiting for a slot is sent when one frees; broker still down: next tick.
    return sending.send([run for run in stale if run[0] in fits])


def reap_lost_runs(stale_after: timedelta | None = None) -> list[int]:
    """Fail ``running`` executions whose worker stopped sending heartbeats."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.PARSEQ_HEARTBEAT_SECONDS * 5)
    cutoff = timezone.now() - stale_after
    lost = Execution.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).values_list(
        "id", flat=True
    )
    reaped = []
    message = WORKER_LOST.format(seconds=int(stale_after.total_seconds()))
    for execution_id in list(lost):
        if state.finish(
            execution_id, Status.FAILED, where=Q(heartbeat_at__lt=cutoff), error=message
        ):
            reaped.append(execution_id)
            logger.warning("execution %s: %s", execution_id, message)
            # A worker-lost run is retried (and mailed about) like any failed run.
            ended = Execution.objects.select_related("job").get(pk=execution_id)
            followups.after_final(ended)
            hooks.finished(ended)
    return reaped
