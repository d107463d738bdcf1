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

from scripts_app.schedule.cron import (
    CronError,
    CronSpec,
    next_wall_time,
    normalize_cron,
    parse_cron,
)
from scripts_app.schedule.describe import describe, describe_cron, humanize
from scripts_app.schedule.fire_times import (
    cron_fire_times,
    due_slots,
    fire_times,
    interval_fire_times,
    kind,
    next_fire,
    next_run_at,
    upcoming,
)
from scripts_app.schedule.misfire import Decision, plan
from scripts_app.schedule.zones import FireTime, job_zone, resolve

__all__ = [
    "CronError",
    "CronSpec",
    "Decision",
    "FireTime",
    "cron_fire_times",
    "describe",
    "describe_cron",
    "due_slots",
    "fire_times",
    "humanize",
    "interval_fire_times",
    "job_zone",
    "kind",
    "next_fire",
    "next_run_at",
    "next_wall_time",
    "normalize_cron",
    "parse_cron",
    "plan",
    "resolve",
    "upcoming",
]
