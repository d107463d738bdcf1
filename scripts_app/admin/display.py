"""Small presentation helpers shared by the admin pages: badges, durations, relative times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil

from scripts_app.models import Status

BADGE_CLASSES = {
    Status.QUEUED: "queued",
    Status.RUNNING: "running",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.TIMED_OUT: "failed",
    Status.CANCELLED: "cancelled",
    Status.SKIPPED: "skipped",
}


def status_label(status: str) -> str:
    try:
        return Status(status).label
    except ValueError:
        return status


def status_badge(status: str | None) -> str:
    if not status:
        return "—"
    return format_html(
        '<span class="parseq-badge parseq-badge-{}" data-status="{}">{}</span>',
        BADGE_CLASSES.get(status, "unknown"),
        status,
        status_label(status),
    )


def format_duration(value: timedelta | float | None) -> str:
    """``1.2 s``, ``3 min 04 s``, ``2 h 05 min`` — short and exact enough for a run."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        seconds = 0.0
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """``3 minutes ago`` / ``in 2 hours``, with the exact time as a tooltip."""
    if value is None:
        return "—"
    now = now or timezone.now()
    if value <= now:
        words = (
            "just now" if now - value < timedelta(seconds=60) else f"{timesince(value, now)} ago"
        )
    else:
        words = f"in {timeuntil(value, now)}"
    exact = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, words)


def pretty_json(value: Any) -> str:
    if value is None:
        return "—"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="parseq-json">{}</pre>', text)


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover - the loop always returns


def elapsed(execution) -> timedelta | None:
    """How long the run took, or has been running so far."""
    if execution.started_at and not execution.finished_at:
        return timezone.now() - execution.started_at
    return execution.duration


def fire_times(times: list) -> str:
    """Planned fire times (``schedule.FireTime``) as a list, DST adjustments flagged."""
    if not times:
        return "none: the schedule has no future fire times"
    rows = [
        (
            fire.at.strftime("%a %Y-%m-%d %H:%M %Z"),
            fire.utc.strftime("%H:%M UTC"),
            format_html(' <span class="parseq-dst">{}</span>', fire.note) if fire.note else "",
        )
        for fire in times
    ]
    return format_html(
        '<ol class="parseq-fire-times">{}</ol>',
        format_html_join("", "<li>{} <small>({})</small>{}</li>", rows),
    )
