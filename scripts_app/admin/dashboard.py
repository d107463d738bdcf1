"""The numbers of the admin dashboard: what runs now, what waits, what failed, how busy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from scripts_app.models import Execution, Status
from scripts_app.models_operations import ProcessHeartbeat

FAILED = [Status.FAILED, Status.TIMED_OUT]
HOURS = 24
LIST_LIMIT = 20
# A worker that beat this recently counts as running (rows are written every 15 s).
WORKER_SEEN = timedelta(minutes=5)


@dataclass
class HourBar:
    hour: datetime
    total: int
    succeeded: int
    failed: int
    other: int
    height: int  # percent of the busiest hour


def runs_per_hour(now: datetime, hours: int = HOURS) -> list[HourBar]:
    """Runs created in each of the last ``hours`` hours (oldest first), zeros included."""
    tz = UTC  # whole hours in UTC: no DST gaps or repeats in the axis
    current = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    first = current - timedelta(hours=hours - 1)
    rows = (
        Execution.objects.filter(created_at__gte=first)
        .annotate(hour=TruncHour("created_at", tzinfo=tz))
        .values("hour")
        .annotate(
            total=Count("id"),
            succeeded=Count("id", filter=Q(status=Status.SUCCEEDED)),
            failed=Count("id", filter=Q(status__in=FAILED)),
        )
    )
    by_hour = {row["hour"].astimezone(tz): row for row in rows}
    busiest = max((row["total"] for row in by_hour.values()), default=0) or 1
    bars = []
    for step in range(hours):
        hour = first + timedelta(hours=step)
        row = by_hour.get(hour, {"total": 0, "succeeded": 0, "failed": 0})
        bars.append(
            HourBar(
                hour=hour,
                total=row["total"],
                succeeded=row["succeeded"],
                failed=row["failed"],
                other=row["total"] - row["succeeded"] - row["failed"],
                height=round(100 * row["total"] / busiest),
            )
        )
    return bars


def overview(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    runs = Execution.objects.select_related("job")
    since = now - timedelta(hours=24)
    failures = runs.filter(status__in=FAILED, finished_at__gte=since).order_by("-finished_at")
    return {
        "now": now,
        "running": list(runs.filter(status=Status.RUNNING).order_by("started_at")[:LIST_LIMIT]),
        "running_count": Execution.objects.filter(status=Status.RUNNING).count(),
        "queued": list(runs.filter(status=Status.QUEUED).order_by("created_at")[:LIST_LIMIT]),
        "queued_count": Execution.objects.filter(status=Status.QUEUED).count(),
        "failures": list(failures[:LIST_LIMIT]),
        "failures_count": failures.count(),
        "per_hour": runs_per_hour(now),
        "unsandboxed_workers": unsandboxed_workers(now),
    }


def unsandboxed_workers(now: datetime) -> list[str]:
    """ "host:pid" of the live workers that run uploaded scripts without the sandbox
    (they say so on their heartbeat row: worker/sandboxing.py)."""
    rows = ProcessHeartbeat.objects.filter(
        process="worker", sandboxed=False, beat_at__gte=now - WORKER_SEEN
    ).order_by("host", "pid")
    return [f"{row.host}:{row.pid}" for row in rows]
