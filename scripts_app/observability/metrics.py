"""Parseq's Prometheus metrics, read from the database at scrape time (``GET /metrics``).

Names (PLAN.md; the Grafana dashboard uses them):
  parseq_runs_finished_total{job,status}         counter    (observability.tallies)
  parseq_run_duration_seconds{job}               histogram  started → finished
  parseq_scheduler_fire_lag_seconds              histogram  slot → run recorded
  parseq_email_failures_total                    counter    failed run e-mails (as they fail)
  parseq_runs_queued{queue}, parseq_runs_running{queue}     gauges
  parseq_oldest_queued_run_age_seconds{queue}    gauge
  parseq_worker_heartbeat_timestamp_seconds{host,process}   gauge (last hour's beats)
Counters and histograms: totals of settled runs plus the few runs since (``tallies``).
The gauges come from one index-only query of the small partial index
``exec_active_idx`` (queued and running rows only); BENCHMARKS.md has the plans.
Each worker exports Dramatiq's own metrics on its own port (``worker_metrics``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from scripts_app.models import Execution, Job, Status
from scripts_app.models_operations import ProcessHeartbeat
from scripts_app.observability import tallies

HEARTBEATS_SHOWN = timedelta(hours=1)


def _buckets(bounds, counts: list[int]) -> list[tuple[str, int]]:
    return [(str(float(b)), c) for b, c in zip(bounds, counts, strict=False)] + [
        ("+Inf", counts[-1])
    ]


def run_metrics(snapshot: tallies.Snapshot) -> list[Metric]:
    finished = CounterMetricFamily(
        "parseq_runs_finished", "Runs that reached a final status.", labels=["job", "status"]
    )
    durations = HistogramMetricFamily(
        "parseq_run_duration_seconds", "Run time, started to finished.", labels=["job"]
    )
    lag = HistogramMetricFamily(
        "parseq_scheduler_fire_lag_seconds",
        "How late the scheduler recorded a scheduled run after its slot.",
    )
    mail = CounterMetricFamily("parseq_email_failures", "Run e-mails that could not be sent.")
    by_job: dict[str, tallies.Tally] = defaultdict(tallies.Tally)
    overall = tallies.Tally()
    for (job, status), tally in sorted(snapshot.tallies.items()):
        if tally.runs:
            finished.add_metric([job, status], tally.runs)
        by_job[job].add(tally)
        overall.add(tally)
    for job, tally in sorted(by_job.items()):
        if tally.durations[-1]:
            buckets = _buckets(tallies.DURATION_BUCKETS, tally.durations)
            durations.add_metric([job], buckets, tally.duration_sum)
    lag.add_metric([], _buckets(tallies.LAG_BUCKETS, overall.lags), overall.lag_sum)
    mail.add_metric([], snapshot.mail_failures)
    return [finished, durations, lag, mail]


def queue_metrics(now) -> list[Metric]:
    rows = (
        Execution.objects.filter(status__in=[Status.QUEUED, Status.RUNNING])
        .order_by()
        .values("queue", "status")
        .annotate(n=Count("*"), oldest=Min("created_at"))
    )
    queues = set(settings.PARSEQ_QUEUES) | set(
        Job.objects.order_by().values_list("queue", flat=True).distinct()
    )
    counts = {(row["queue"], row["status"]): row for row in rows}
    queues |= {queue for queue, _ in counts}
    queued = GaugeMetricFamily("parseq_runs_queued", "Runs waiting for a worker.", labels=["queue"])
    running = GaugeMetricFamily("parseq_runs_running", "Runs being carried out.", labels=["queue"])
    oldest = GaugeMetricFamily(
        "parseq_oldest_queued_run_age_seconds",
        "Age of the oldest queued run (0 when none is queued).",
        labels=["queue"],
    )
    for queue in sorted(queues):
        waiting = counts.get((queue, Status.QUEUED))
        queued.add_metric([queue], waiting["n"] if waiting else 0)
        busy = counts.get((queue, Status.RUNNING))
        running.add_metric([queue], busy["n"] if busy else 0)
        age = (now - waiting["oldest"]).total_seconds() if waiting else 0.0
        oldest.add_metric([queue], max(0.0, age))
    return [queued, running, oldest]


def heartbeat_metrics(now) -> list[Metric]:
    beats = GaugeMetricFamily(
        "parseq_worker_heartbeat_timestamp_seconds",
        "Unix time of the last heartbeat of a worker or scheduler process on a host.",
        labels=["host", "process"],
    )
    rows = (
        ProcessHeartbeat.objects.filter(beat_at__gte=now - HEARTBEATS_SHOWN)
        .order_by()
        .values("host", "process")
        .annotate(last=Max("beat_at"))
    )
    for row in sorted(rows, key=lambda r: (r["host"], r["process"])):
        beats.add_metric([row["host"], row["process"]], row["last"].timestamp())
    return [beats]


class ParseqCollector:
    """A prometheus_client collector whose every scrape reads the database."""

    def collect(self):
        now = timezone.now()
        yield from run_metrics(tallies.snapshot())
        yield from queue_metrics(now)
        yield from heartbeat_metrics(now)


def registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ParseqCollector())
    return registry


def exposition() -> bytes:
    """The text exposition format of every Parseq metric (raises DatabaseError)."""
    return generate_latest(registry())
