"""Time zones and the DST rule: every wall-clock fire time fires at most once.

A time in the repeated autumn hour fires on its first occurrence only; a time inside
the spring gap fires once, right after the gap (as Vixie cron does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings


@dataclass(frozen=True)
class FireTime:
    """One planned run: ``at`` in the job's time zone, ``utc`` the same instant in UTC,
    ``note`` flags a DST adjustment ("" when none)."""

    at: datetime
    utc: datetime
    note: str = ""


def job_zone(job: Any) -> ZoneInfo:
    return ZoneInfo(getattr(job, "timezone", "") or settings.TIME_ZONE)


def _exists(wall: datetime, tz: tzinfo) -> bool:
    back = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back == wall


def _gap_end(wall: datetime, tz: tzinfo) -> datetime:
    """The instant a spring-forward gap containing ``wall`` ends (UTC)."""
    # fold=1 reads the gap time with the offset after the change, landing before
    # the transition; fold=0 uses the offset before it, landing after.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    after_offset = hi.astimezone(tz).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi


def resolve(wall: datetime, tz: tzinfo) -> FireTime:
    """The instant a naive wall-clock fire time happens in ``tz``, per the DST rule."""
    if not _exists(wall, tz):
        utc = _gap_end(wall, tz)
        at = utc.astimezone(tz)
        note = f"DST gap: {wall:%H:%M} does not exist; fires at {at:%H:%M}"
        return FireTime(at=at, utc=utc, note=note)
    first = wall.replace(tzinfo=tz, fold=0)
    if first.utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset():
        note = f"DST repeat: {wall:%H:%M} occurs twice; fires once"
        return FireTime(at=first, utc=first.astimezone(UTC), note=note)
    return FireTime(at=first, utc=first.astimezone(UTC))
