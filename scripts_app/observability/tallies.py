"""Run metrics derived from the database, so every web replica reports the same numbers.

Runs finish on workers (and in the scheduler's reaper, the web's cancel, ...) and are
fired by schedulers, on any host, but ``/metrics`` is served by web processes. So the
counters are not kept in any process: they are *derived* from the executions table,
whose rows are the events — a row with ``finished_at`` is a finished run (with its
duration), a scheduled row a fired slot (with its lag).

Reading every row on every scrape would cost O(runs) (0.7 s at a million). Instead rows
are *folded* into ``RunTotal`` once they are settled — finished (or, for the lag,
created) before ``MetricsState.folded_before`` — and a scrape adds the live rows after
that mark, read through ``exec_finished_idx`` / ``exec_newest_idx``. "Settled" means
older than ``settle()``: a run's final write may be retried that long after its
``finished_at`` was taken (PARSEQ_DB_RETRY_SECONDS), so no row can land behind the mark.

Deleting rows (retention, job deletion) folds their live share first, in the deleting
transaction; every change of the totals takes the MetricsState row lock, and so does a
scrape while it reads: a counter never goes down. E-mail failures are counted where they
happen (``count_mail_failure``): a run's ``notify_attempts`` keep changing after it ends.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.utils import timezone

from scripts_app.models import FINAL_STATUSES, Execution, Job, Status, Trigger
from scripts_app.models_operations import MetricsState, RunTotal

logger = logging.getLogger(__name__)

# PLAN.md's buckets for run durations; fire lag is mostly sub-second, sometimes minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
FOLD_EVERY = timedelta(minutes=10)  # how much settled time a fold takes in at once
ROW = "created_at"  # the counted column: never null (COUNT(*) takes no FILTER in Django)
FIELDS = ("runs", "durations", "duration_sum", "lags", "lag_sum")

Key = tuple[str, str]  # (job slug, status)


def settle() -> timedelta:
    return timedelta(seconds=settings.PARSEQ_DB_RETRY_SECONDS + 300)


@dataclass
class Tally:
    """One (job, status) group's share. Bucket lists are cumulative counts per ``le``
    bound, the +Inf bucket (the observation count) last."""

    runs: int = 0
    durations: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    lags: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS) + 1))
    lag_sum: float = 0.0

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.durations = [a + b for a, b in zip(self.durations, other.durations, strict=True)]
        self.duration_sum += other.duration_sum
        self.lags = [a + b for a, b in zip(self.lags, other.lags, strict=True)]
        self.lag_sum += other.lag_sum


@dataclass
class Snapshot:
    tallies: dict[Key, Tally]
    mail_failures: int


def _histogram(prefix: str, value: str, bounds, where: Q) -> dict:
    counts = {
        f"{prefix}{i}": Count(ROW, filter=where & Q(**{f"{value}__lte": timedelta(seconds=b)}))
        for i, b in enumerate(bounds)
    }
    return {
        **counts,
        f"{prefix}n": Count(ROW, filter=where),
        f"{prefix}sum": Sum(value, filter=where),
    }


def _grouped(rows: QuerySet[Execution], aggregates: dict) -> list[dict]:
    return list(
        rows.alias(
            duration=ExpressionWrapper(F("finished_at") - F("started_at"), DurationField()),
            lag=ExpressionWrapper(F("created_at") - F("scheduled_for"), DurationField()),
        )
        .order_by()
        .values("job_id", "status")
        .annotate(**aggregates)
    )


def _seconds(value) -> float:
    return value.total_seconds() if value is not None else 0.0


def tally(finished: QuerySet[Execution], fired: QuerySet[Execution]) -> dict[Key, Tally]:
    """The share of the runs in ``finished`` (runs, durations) and ``fired`` (lags)."""
    timed = Q(started_at__isnull=False)
    finished_groups = _grouped(
        finished.filter(status__in=FINAL_STATUSES, finished_at__isnull=False),
        {"runs": Count(ROW), **_histogram("d", "duration", DURATION_BUCKETS, timed)},
    )
    fired_groups = _grouped(
        fired.filter(trigger=Trigger.SCHEDULE, scheduled_for__isnull=False).exclude(
            status=Status.SKIPPED  # a missed slot fired nothing
        ),
        _histogram("l", "lag", LAG_BUCKETS, Q()),
    )
    job_ids = {g["job_id"] for g in finished_groups + fired_groups}
    slugs = dict(Job.objects.filter(pk__in=job_ids).values_list("pk", "slug"))
    tallies: dict[Key, Tally] = defaultdict(Tally)
    for g in finished_groups:
        durations = [g[f"d{i}"] for i in range(len(DURATION_BUCKETS))] + [g["dn"]]
        share = Tally(runs=g["runs"], durations=durations, duration_sum=_seconds(g["dsum"]))
        tallies[(slugs[g["job_id"]], g["status"])].add(share)
    for g in fired_groups:
        lags = [g[f"l{i}"] for i in range(len(LAG_BUCKETS))] + [g["ln"]]
        tallies[(slugs[g["job_id"]], g["status"])].add(
            Tally(lags=lags, lag_sum=_seconds(g["lsum"]))
        )
    return dict(tallies)


def _since(rows: QuerySet[Execution], mark: datetime | None, before: datetime | None = None):
    """(finished, fired): ``rows`` finished / created in [mark, before)."""
    finished, fired = rows, rows
    if mark is not None:
        finished, fired = finished.filter(finished_at__gte=mark), fired.filter(created_at__gte=mark)
    if before is not None:
        finished, fired = (
            finished.filter(finished_at__lt=before),
            fired.filter(created_at__lt=before),
        )
    return finished, fired


def _locked_state() -> MetricsState:
    MetricsState.objects.get_or_create(pk=1)
    return MetricsState.objects.select_for_update().get(pk=1)


def _add_to_totals(tallies: dict[Key, Tally]) -> None:
    for (job, status), share in tallies.items():
        total, _ = RunTotal.objects.get_or_create(job=job, status=status)
        kept = _tally_of(total)
        kept.add(share)
        for name in FIELDS:
            setattr(total, name, getattr(kept, name))
        total.save()


def _tally_of(total: RunTotal) -> Tally:
    return Tally(
        runs=total.runs,
        durations=total.durations or Tally().durations,
        duration_sum=total.duration_sum,
        lags=total.lags or Tally().lags,
        lag_sum=total.lag_sum,
    )


def fold(rows: QuerySet[Execution]) -> None:
    """Before ``rows`` are deleted, in the deleting transaction: keep their live share."""
    assert transaction.get_connection().in_atomic_block, "fold in the deleting transaction"
    state = _locked_state()
    _add_to_totals(tally(*_since(rows, state.folded_before)))


def _fold_settled(state: MetricsState, now: datetime) -> None:
    """Move the rows settled since the mark into the totals (a few minutes' worth)."""
    target = now - settle()
    if state.folded_before is not None and target - state.folded_before < FOLD_EVERY:
        return
    rows = Execution.objects.all()
    _add_to_totals(tally(*_since(rows, state.folded_before, target)))
    state.folded_before = target
    state.save(update_fields=["folded_before"])


def snapshot() -> Snapshot:
    """Totals plus the live rows after the mark, as of one moment (under the state lock)."""
    with transaction.atomic():
        state = _locked_state()
        _fold_settled(state, timezone.now())
        tallies = {(t.job, t.status): _tally_of(t) for t in RunTotal.objects.all()}
        for key, share in tally(*_since(Execution.objects.all(), state.folded_before)).items():
            tallies.setdefault(key, Tally()).add(share)
        return Snapshot(tallies, state.mail_failures)


def count_mail_failure() -> None:
    """A run e-mail could not be sent (counted where it happens: notify). Never raises:
    the caller is handling a failure already."""
    try:
        with transaction.atomic():
            state = _locked_state()
            MetricsState.objects.filter(pk=state.pk).update(mail_failures=F("mail_failures") + 1)
    except DatabaseError as exc:
        logger.warning("e-mail failure not counted: %s", exc)
