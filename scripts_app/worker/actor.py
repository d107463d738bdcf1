"""Dramatiq actors: thin, idempotent, and given only an execution id."""

from __future__ import annotations

import dramatiq

from scripts_app.worker import execution


# No notify_shutdown: on SIGTERM a run is given PARSEQ_SHUTDOWN_GRACE to finish and is
# then stopped by its own supervisor (worker_middleware.ShutdownGrace), which records why.
@dramatiq.actor(queue_name="default", max_retries=0)
def run_execution(execution_id: int) -> None:
    execution.execute(execution_id)


def enqueue_run(execution_id: int, queue: str = "default", delay_ms: int | None = None) -> None:
    """Send ``run_execution(execution_id)`` to ``queue`` (a job's worker pool)."""
    message = run_execution.message(execution_id)
    if queue != message.queue_name:
        message = message.copy(queue_name=queue)
    run_execution.broker.enqueue(message, delay=delay_ms)
