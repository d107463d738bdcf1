"""Rows the operations side keeps (observability/: metric totals, process heartbeats).

A module of their own below ``scripts_app.models``, which imports them so they belong to
the ``scripts_app`` app and its migrations, while ``observability`` (which reads the run
models too) stays above both: no import cycle."""

from __future__ import annotations

from django.db import models


class RunTotal(models.Model):
    """The metrics share of runs folded so far (see ``observability.tallies``): runs that
    finished, and scheduled runs recorded, before ``MetricsState.folded_before``. Keyed by
    job slug: a deleted job's counts stay, as a counter's should."""

    job = models.CharField(max_length=100)
    status = models.CharField(max_length=16)
    runs = models.PositiveBigIntegerField(default=0)
    # Cumulative bucket counts (Prometheus "le" buckets), the +Inf bucket last.
    durations = models.JSONField(default=list)
    duration_sum = models.FloatField(default=0)
    lags = models.JSONField(default=list)
    lag_sum = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "status"], name="one_run_total_per_status")
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.status}: {self.runs}"


class MetricsState(models.Model):
    """One row: up to when runs are folded into RunTotal, and the e-mail failure counter.
    Every change of the totals takes this row's lock, so a scrape reads them consistently."""

    folded_before = models.DateTimeField(null=True, blank=True)
    mail_failures = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"folded before {self.folded_before}"


class ProcessHeartbeat(models.Model):
    """The last beat of a worker or scheduler process, for the metrics (which processes
    are alive, on which hosts). Written at most every few seconds and best effort; the
    ``healthcheck`` command reads the heartbeat *file* instead, which needs no database."""

    host = models.CharField(max_length=255)
    process = models.CharField(max_length=16)  # "worker" or "scheduler"
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()
    # A worker: whether it runs uploaded scripts in the sandbox (None: not a worker, or
    # one that has not said), for the dashboard's "scripts are not sandboxed".
    sandboxed = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host", "process", "pid"], name="one_heartbeat_per_process"
            )
        ]

    def __str__(self) -> str:
        return f"{self.process} {self.host}:{self.pid}"
