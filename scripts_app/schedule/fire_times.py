"""Fire times of a job's schedule: cron (wall clock, per the DST rule), interval
(elapsed time) or one-off, always from the previous *planned* fire time, never from
"now plus period", so schedules do not drift."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from scripts_app.schedule.cron import next_wall_time, parse_cron
from scripts_app.schedule.zones import FireTime, job_zone, resolve


def kind(job: Any) -> str:
    """The schedule's kind: "cron", "interval", "once", or "" when not scheduled."""
    if job.cron:
        return "cron"
    if job.start_at and job.repeat_every:
        return "interval"
    if job.start_at:
        return "once"
    return ""


def cron_fire_times(expression: str, tz: tzinfo, after: datetime) -> Iterator[FireTime]:
    """Fire times of ``expression`` in ``tz`` strictly after the instant ``after``."""
    spec = parse_cron(expression)
    after_utc = after.astimezone(UTC)
    wall = after.astimezone(tz).replace(tzinfo=None, fold=0)
    last = after_utc
    while (wall := next_wall_time(spec, wall)) is not None:
        fire = resolve(wall, tz)
        # A first-pass time seen from inside the repeated hour is already past, and
        # several gap times share one instant: each instant fires once.
        if fire.utc > last:
            last = fire.utc
            yield fire


def interval_fire_times(
    start: datetime, every: timedelta, tz: tzinfo, after: datetime
) -> Iterator[FireTime]:
    """``start + k * every`` (k ≥ 0) strictly after ``after``: arithmetic, so no drift."""
    # In UTC: Python adds a timedelta to a zoned datetime in wall-clock time.
    start = start.astimezone(UTC)
    k = 0 if after < start else (after - start) // every + 1
    while True:
        utc = (start + k * every).astimezone(UTC)
        yield FireTime(at=utc.astimezone(tz), utc=utc)
        k += 1


def fire_times(job: Any, after: datetime) -> Iterator[FireTime]:
    """Every fire time of ``job``'s schedule strictly after ``after`` (enabled or not)."""
    tz = job_zone(job)
    schedule = kind(job)
    if schedule == "cron":
        yield from cron_fire_times(job.cron, tz, after)
    elif schedule == "interval":
        yield from interval_fire_times(job.start_at, job.repeat_every, tz, after)
    elif schedule == "once" and job.start_at > after:
        utc = job.start_at.astimezone(UTC)
        yield FireTime(at=utc.astimezone(tz), utc=utc)


def next_fire(job: Any, after: datetime) -> datetime | None:
    """The next fire time (UTC) strictly after ``after``, or None when there is none."""
    fire = next(fire_times(job, after), None)
    return fire.utc if fire else None


def next_run_at(job: Any, now: datetime) -> datetime | None:
    """What ``Job.next_run_at`` should hold after an edit at ``now``: None when disabled."""
    if not job.enabled:
        return None
    return next_fire(job, now)


def upcoming(job: Any, count: int = 5, after: datetime | None = None) -> list[FireTime]:
    """The next ``count`` fire times after ``after`` (default: now), DST flags included."""
    if after is None:
        from django.utils import timezone

        after = timezone.now()
    result = []
    for fire in fire_times(job, after):
        result.append(fire)
        if len(result) >= count:
            break
    return result


def due_slots(job: Any, first: datetime, now: datetime, limit: int) -> tuple[list[datetime], bool]:
    """The latest ``limit`` slots in ``[first, now]`` (``first`` is the planned
    ``next_run_at``), oldest first, and whether older slots were left out.

    Bounded work even after months of downtime: it looks back from ``now`` over a
    doubling span instead of walking every slot since ``first``.
    """
    if first > now:
        return [], False
    slots = [first]
    for fire in fire_times(job, first):
        if fire.utc > now or len(slots) > limit:
            break
        slots.append(fire.utc)
    if len(slots) <= limit:
        return slots, False
    span = (job.repeat_every or timedelta(hours=1)) * 2
    while True:
        start = now - span
        if start <= first:  # cannot happen: the forward walk found more than `limit`
            return slots[-limit:], True
        recent = []
        for fire in fire_times(job, start):
            if fire.utc > now:
                break
            recent.append(fire.utc)
        if len(recent) >= limit:
            return recent[-limit:], True
        span *= 2
