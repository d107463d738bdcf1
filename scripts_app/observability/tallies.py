"""Run metrics derived from the database, so every web replica reports the same numbers.

Runs finish on workers and scheduled runs are fired by schedulers, on any host, but
``/metrics`` is served by web processes. Instead of counting in one process and losing
the counts of every other, the counters are *derived* from the executions table, whose
rows are the events: a final row is a finished run (with its duration), a scheduled row
a fired slot (with its lag), ``notify_attempts`` the mail attempts. One aggregate query,
grouped by (job, status), reads them — an index-only scan of ``exec_metrics_idx``.

Rows do get deleted (retention, job deletion); ``fold`` moves their share into
``RunTotal`` in the same transaction as the delete, and ``snapshot`` reads rows and
totals in one snapshot (REPEATABLE READ), so no counter ever goes down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum

from scripts_app.models import FINAL_STATUSES, Execution, Job, Status, Trigger
from scripts_app.observability.models import RunTotal

# PLAN.md's buckets for run durations; fire lag is mostly sub-second, sometimes minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

Key = tuple[str, str]  # (job slug, status)
# Counted column: never null and in the index (COUNT(*) takes no FILTER in Django).
ROW = "created_at"


@dataclass
class Tally:
    """One (job, status) group's share of the metrics. Bucket lists are cumulative
    counts per ``le`` bound, with the +Inf bucket (the observation count) last."""

    runs: int = 0
    durations: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    lags: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS) + 1))
    lag_sum: float = 0.0
    mail_failures: int = 0

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.durations = [a + b for a, b in zip(self.durations, other.durations, strict=True)]
        self.duration_sum += other.duration_sum
        self.lags = [a + b for a, b in zip(self.lags, other.lags, strict=True)]
        self.lag_sum += other.lag_sum
        self.mail_failures += other.mail_failures


def _seconds(value) -> float:
    if value is None:
        return 0.0
    return value.total_seconds() if isinstance(value, timedelta) else value / 1e6


def _histogram(prefix: str, value, bounds, where: Q) -> dict:
    """Aggregates of one histogram: a count per bound, the count and the sum."""
    counts = {
        f"{prefix}{i}": Count(ROW, filter=where & Q(**{f"{value}__lte": timedelta(seconds=b)}))
        for i, b in enumerate(bounds)
    }
    return {
        **counts,
        f"{prefix}n": Count(ROW, filter=where),
        f"{prefix}sum": Sum(value, filter=where),
    }


def _aggregates() -> dict:
    timed = Q(started_at__isnull=False, finished_at__isnull=False)
    fired = Q(trigger=Trigger.SCHEDULE, scheduled_for__isnull=False) & ~Q(status=Status.SKIPPED)
    mailed = Q(notified_at__isnull=False, notify_attempts__gt=0)
    return {
        "runs": Count(ROW),
        **_histogram("d", "duration", DURATION_BUCKETS, timed),
        **_histogram("l", "lag", LAG_BUCKETS, fired),
        "attempts": Sum("notify_attempts"),
        "mailed": Count(ROW, filter=mailed),
    }


def tally_rows(rows: QuerySet[Execution]) -> dict[Key, Tally]:
    """The metrics share of ``rows``, by (job slug, status): one aggregate query."""
    grouped = (
        rows.alias(
            duration=ExpressionWrapper(F("finished_at") - F("started_at"), DurationField()),
            lag=ExpressionWrapper(F("created_at") - F("scheduled_for"), DurationField()),
        )
        .order_by()
        .values("job_id", "status")
        .annotate(**_aggregates())
    )
    groups = list(grouped)
    slugs = dict(Job.objects.filter(pk__in={g["job_id"] for g in groups}).values_list("pk", "slug"))
    tallies: dict[Key, Tally] = defaultdict(Tally)
    for group in groups:
        tally = Tally(
            runs=group["runs"] if group["status"] in FINAL_STATUSES else 0,
            durations=[group[f"d{i}"] for i in range(len(DURATION_BUCKETS))] + [group["dn"]],
            duration_sum=_seconds(group["dsum"]) if group["dn"] else 0.0,
            lags=[group[f"l{i}"] for i in range(len(LAG_BUCKETS))] + [group["ln"]],
            lag_sum=_seconds(group["lsum"]) if group["ln"] else 0.0,
            mail_failures=(group["attempts"] or 0) - group["mailed"],
        )
        tallies[(slugs[group["job_id"]], group["status"])].add(tally)
    return dict(tallies)


def _tally_of(total: RunTotal) -> Tally:
    return Tally(
        runs=total.runs,
        durations=total.durations or Tally().durations,
        duration_sum=total.duration_sum,
        lags=total.lags or Tally().lags,
        lag_sum=total.lag_sum,
        mail_failures=total.mail_failures,
    )


def fold(rows: QuerySet[Execution]) -> None:
    """Before ``rows`` are deleted (in the caller's transaction): keep their share."""
    assert transaction.get_connection().in_atomic_block, "fold in the deleting transaction"
    for (job, status), tally in tally_rows(rows).items():
        total, _ = RunTotal.objects.select_for_update().get_or_create(job=job, status=status)
        kept = _tally_of(total)
        kept.add(tally)
        for name in ("runs", "durations", "duration_sum", "lags", "lag_sum", "mail_failures"):
            setattr(total, name, getattr(kept, name))
        total.save()


def snapshot() -> dict[Key, Tally]:
    """Rows and totals of deleted rows, added up, as of one moment."""
    outer = connection.in_atomic_block  # a test's transaction: its snapshot is already set
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        tallies = tally_rows(Execution.objects.all())
        for total in RunTotal.objects.all():
            tallies.setdefault((total.job, total.status), Tally()).add(_tally_of(total))
    return tallies
