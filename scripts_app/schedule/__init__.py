"""Schedule maths as pure functions: no database, no clock (callers pass ``after``/``now``).

A job has at most one schedule:

* cron — ``cron`` (5 fields or an ``@alias``) read as wall-clock time in the job's
  time zone (``timezone``, default ``settings.TIME_ZONE``);
* interval — ``start_at`` then every ``repeat_every`` of elapsed time;
* one-off — ``start_at`` alone.

The DST rule for cron (documented in the README): every wall-clock fire time fires
at most once. A time in the repeated autumn hour fires on its first occurrence
only; a time inside the spring gap fires once, right after the gap (as Vixie cron
does), and several gap times collapse into that one run. Intervals count elapsed
time, so DST does not touch them.

Fire times are always computed from the previous *planned* fire time (or an
explicit instant), never from "now plus period", so schedules do not drift.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
# (name, low, high, names) for the five fields, in order.
FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTH_NAMES),
    ("day of week", 0, 7, DAY_NAMES),
)
ITEM_RE = re.compile(r"^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/(\d+))?$")
# A cron expression that matches nothing in this many years never matches at all
# (the calendar repeats every 28 years for day-of-month/day-of-week combinations).
SEARCH_YEARS = 29


class CronError(ValueError):
    """A cron expression that cannot be used; the message says why."""


@dataclass(frozen=True)
class CronSpec:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_star: bool
    dow_star: bool

    def day_matches(self, day: datetime) -> bool:
        # Vixie cron: when both day fields are restricted, either may match.
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow


@dataclass(frozen=True)
class FireTime:
    """One planned run: ``at`` in the job's time zone, ``utc`` the same instant in UTC,
    ``note`` flags a DST adjustment ("" when none)."""

    at: datetime
    utc: datetime
    note: str = ""


@dataclass(frozen=True)
class Decision:
    """What the scheduler does with one due slot: run it, or record it as skipped."""

    slot: datetime
    run: bool
    reason: str = ""


# ---------------------------------------------------------------- cron parsing


def normalize_cron(expression: str) -> str:
    expression = " ".join(expression.split())
    return ALIASES.get(expression.lower(), expression)


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.isdigit():
        number = int(text)
    elif text in names:
        number = names[text]
    else:
        raise CronError(f"{name} field: “{text}” is not a number or a known name")
    if not low <= number <= high:
        raise CronError(f"{name} field: {number} is out of range {low}–{high}")
    return number


def _parse_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        match = ITEM_RE.match(item)
        if not match:
            raise CronError(f"{name} field: “{item}” is not valid cron syntax")
        star, first, last, step = match.groups()
        if star:
            start, end = low, high
        else:
            start = _value(first, name, low, high, names)
            # "5/15" means "from 5 to the end, every 15" (a common extension).
            end = _value(last, name, low, high, names) if last else (high if step else start)
        if start > end:
            raise CronError(f"{name} field: range “{item}” runs backwards")
        stride = int(step) if step else 1
        if stride < 1:
            raise CronError(f"{name} field: step must be at least 1")
        values.update(range(start, end + 1, stride))
    return values


@lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronSpec:
    """Parse a 5-field cron expression or alias; raise CronError with a reason."""
    normalized = normalize_cron(expression)
    if normalized.startswith("@"):
        raise CronError(f"unknown alias “{expression.strip()}”")
    parts = normalized.split()
    if len(parts) != 5:
        raise CronError("a cron expression has 5 fields: minute hour day-of-month month weekday")
    sets = [_parse_field(part, *field) for part, field in zip(parts, FIELDS, strict=True)]
    weekdays = {day % 7 for day in sets[4]}  # 7 is Sunday too
    spec = CronSpec(
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=frozenset(weekdays),
        dom_star=parts[2].startswith("*"),
        dow_star=parts[4].startswith("*"),
    )
    if next_wall_time(spec, datetime(2000, 1, 1)) is None:
        raise CronError("it never matches a real date")
    return spec


def _first_at_least(values: tuple[int, ...], value: int) -> int | None:
    return next((v for v in values if v >= value), None)


def next_wall_time(spec: CronSpec, after: datetime) -> datetime | None:
    """The first naive wall-clock time strictly after ``after`` that ``spec`` matches."""
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit_year = after.year + SEARCH_YEARS
    while t.year <= limit_year:
        if t.month not in spec.months:
            t = (t.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            continue
        if not spec.day_matches(t):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        hour = _first_at_least(spec.hours, t.hour)
        if hour is None:
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        if hour != t.hour:
            t = t.replace(hour=hour, minute=0)
        minute = _first_at_least(spec.minutes, t.minute)
        if minute is None:
            t = t.replace(minute=0) + timedelta(hours=1)
            continue
        return t.replace(minute=minute)
    return None


# ---------------------------------------------------------------- time zones


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


# ---------------------------------------------------------------- fire times


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


# ---------------------------------------------------------------- policies


def plan(
    slots: list[datetime],
    now: datetime,
    *,
    misfire_policy: str,
    grace: timedelta,
    catch_up_limit: int,
    omitted: bool = False,
) -> list[Decision]:
    """Decide, for due ``slots`` (oldest first), which run and which are recorded skipped.

    A slot no more than ``grace`` late is on time and runs. Later ones misfired
    (the scheduler was down or the clock jumped) and follow the misfire policy:
    ``coalesce`` runs one for the whole window, ``skip`` runs none,
    ``catch_up`` runs the latest ``catch_up_limit`` of them. Nothing is dropped
    silently: every slot not run gets a reason.
    """
    late = [s for s in slots if now - s > grace]
    on_time = [s for s in slots if now - s <= grace]
    decisions: list[Decision] = []
    if misfire_policy == "catch_up":
        run_late = set(late[-catch_up_limit:]) if catch_up_limit > 0 else set()
        for slot in late:
            reason = (
                "" if slot in run_late else f"missed; beyond the catch-up limit of {catch_up_limit}"
            )
            decisions.append(Decision(slot, slot in run_late, reason))
    elif misfire_policy == "skip":
        decisions += [
            Decision(
                slot,
                False,
                f"missed: due {_late_by(now - slot)} before the scheduler ran (misfire policy skip)",
            )
            for slot in late
        ]
    else:  # coalesce
        target = on_time[0] if on_time else (late[-1] if late else None)
        for slot in late:
            if slot == target:
                decisions.append(Decision(slot, True))
            else:
                decisions.append(
                    Decision(slot, False, f"missed; coalesced into the run for {_iso(target)}")
                )
    decisions += [Decision(slot, True) for slot in on_time]
    if omitted:
        note = "; earlier missed slots (since the planned time) are not listed one by one"
        for i, decision in enumerate(decisions):
            if not decision.run:
                decisions[i] = Decision(decision.slot, False, decision.reason + note)
                break
    return decisions


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "?"


def _late_by(delta: timedelta) -> str:
    return humanize(timedelta(seconds=int(delta.total_seconds())))


# ---------------------------------------------------------------- words


def humanize(delta: timedelta) -> str:
    """``timedelta(minutes=90)`` → "1 hour 30 minutes"."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def _every(delta: timedelta) -> str:
    text = humanize(delta)
    return f"Every {text[2:]}" if text.startswith("1 ") and " " not in text[2:] else f"Every {text}"


def _names(field: str, names: list[str], offset: int) -> str | None:
    """ "1-5" → "Monday–Friday", "1,3" → "Monday and Wednesday"; None if not that simple."""
    items = []
    for item in field.split(","):
        bounds = item.split("-")
        if not all(b.isdigit() for b in bounds) or len(bounds) > 2:
            return None
        words = [names[(int(b) - offset) % len(names)] for b in bounds]
        items.append("–".join(words))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_cron(expression: str, tz_name: str) -> str:
    minute, hour, dom, month, dow = normalize_cron(expression).split()
    if minute.isdigit() and all(h.isdigit() for h in hour.split(",")):
        times = [f"{int(h):02d}:{int(minute):02d}" for h in hour.split(",")]
        text = "At " + (
            times[0] if len(times) == 1 else ", ".join(times[:-1]) + " and " + times[-1]
        )
    elif minute == "*" and hour == "*":
        text = "Every minute"
    elif minute.startswith("*/") and hour == "*":
        text = f"Every {minute[2:]} minutes"
    elif minute.isdigit() and hour == "*":
        text = f"At minute {int(minute)} of every hour"
    else:
        text = f"At minute {minute} past hour {hour}"
    days = []
    if dom != "*":
        days.append(f"day {dom} of the month")
    if dow != "*":
        days.append(_names(dow.lower(), WEEKDAYS, 0) or f"weekday {dow}")
    if days:
        text += " on " + " or ".join(days)
    if month != "*":
        text += " in " + (_names(month, list(calendar.month_name)[1:], 1) or f"month {month}")
    return f"{text} ({tz_name})"


def describe(job: Any) -> str:
    """The job's schedule in words, e.g. "At 09:00 on Monday–Friday (Europe/Berlin)"."""
    tz = job_zone(job)
    schedule = kind(job)
    if schedule == "cron":
        return describe_cron(job.cron, tz.key)
    start = job.start_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if job.start_at else ""
    if schedule == "interval":
        return f"{_every(job.repeat_every)} from {start} {tz.key}"
    if schedule == "once":
        return f"Once at {start} ({tz.key})"
    return "Not scheduled"
