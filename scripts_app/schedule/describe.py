"""A schedule in words, as the admin shows it."""

from __future__ import annotations

import calendar
from datetime import timedelta
from typing import Any

from scripts_app.schedule.cron import normalize_cron
from scripts_app.schedule.fire_times import kind
from scripts_app.schedule.zones import job_zone

WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


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
