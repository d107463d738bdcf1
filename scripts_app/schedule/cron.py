"""Cron expressions: 5 fields or an ``@alias``, read as wall-clock times.

croniter expands and validates the fields; Parseq keeps, on top, its own messages
(which field, and why), its day rule (Vixie cron: when both day fields are
restricted either may match; a day field starting with ``*`` means both must) and
the search for the next wall-clock time, which the DST rule (``zones.py``) resolves.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from croniter import CroniterError, croniter

from scripts_app.errors import CronError

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


def check_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    """Parseq's field-by-field messages, checked before croniter expands the field.

    Only the syntax Parseq documents passes: ``*``, numbers and names, ``a-b`` ranges
    that run forwards, ``/step`` of at least 1 (``5/15``: from 5 to the end). croniter's
    own extensions (``L``, ``W``, ``#``, ``?``, ``H``, wrap-around ranges) do not.
    """
    for item in text.split(","):
        match = ITEM_RE.match(item)
        if not match:
            raise CronError(f"{name} field: “{item}” is not valid cron syntax")
        star, first, last, step = match.groups()
        if not star:
            start = _value(first, name, low, high, names)
            if last and _value(last, name, low, high, names) < start:
                raise CronError(f"{name} field: range “{item}” runs backwards")
        if step is not None and int(step) < 1:
            raise CronError(f"{name} field: step must be at least 1")


def expand(fields: list[str]) -> list[frozenset[int]]:
    """croniter's expansion of five checked fields: the values each one matches."""
    try:
        expanded, _ = croniter.expand(" ".join(fields))
    except CroniterError as exc:  # a case the friendly check above does not name
        raise CronError(f"not a valid cron expression ({exc})") from None
    sets = []
    for values, (_name, low, high, _names) in zip(expanded, FIELDS, strict=True):
        if "*" in values:  # croniter's word for the whole range
            values = range(low, high + 1)
        sets.append(frozenset(value % 7 if high == 7 else value for value in values))
    return sets


@lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronSpec:
    """Parse a 5-field cron expression or alias; raise CronError with a reason."""
    normalized = normalize_cron(expression)
    if normalized.startswith("@"):
        raise CronError(f"unknown alias “{expression.strip()}”")
    parts = normalized.lower().split()
    if len(parts) != 5:
        raise CronError("a cron expression has 5 fields: minute hour day-of-month month weekday")
    for part, field in zip(parts, FIELDS, strict=True):
        check_field(part, *field)
    minutes, hours, days, months, weekdays = expand(parts)  # 7 is Sunday too: 0
    spec = CronSpec(
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=weekdays,
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
