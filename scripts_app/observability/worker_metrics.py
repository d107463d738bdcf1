"""Dramatiq's own Prometheus metrics on each worker host, port PARSEQ_WORKER_METRICS_PORT.

Dramatiq's middleware keeps its metrics in prometheus_client's multiprocess files (one
per worker process, in ``dramatiq_prom_db``) and serves them from one extra process the
``dramatiq`` command forks, on ``dramatiq_prom_port``. Both are read from the
environment when its module is imported — in the ``manage.py rundramatiq`` process,
before it execs ``dramatiq`` — so this module sets the port from the setting first.
The settings list this middleware only with PARSEQ_METRICS=1 and a port above 0.
"""

from __future__ import annotations

import os

from django.conf import settings

os.environ.setdefault("dramatiq_prom_port", str(settings.PARSEQ_WORKER_METRICS_PORT))

from dramatiq.middleware.prometheus import Prometheus  # noqa: E402  (reads the port)


class WorkerMetrics(Prometheus):
    """Counters start in ``after_process_boot``, which only a worker process emits: in
    the web and scheduler processes (same broker settings) this middleware does nothing."""

    booted = False

    def after_process_boot(self, broker):
        super().after_process_boot(broker)
        self.booted = True

    def after_enqueue(self, broker, message, delay):
        if self.booted:  # a web or scheduler process enqueues too, with no counters
            super().after_enqueue(broker, message, delay)
