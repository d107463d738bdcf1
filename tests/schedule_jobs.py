"""Jobs for the schedule-maths tests: unsaved instances of the real model, so every test
file sees the same defaults (no schedule, enabled, the server's time zone — UTC in the
test settings) and no database is touched."""

from __future__ import annotations

from scripts_app.models import Job


def job(**fields) -> Job:
    """An unsaved Job with ``fields`` (``cron``, ``timezone``, ``start_at``, …) set."""
    return Job(**fields)
