"""The Dramatiq actor: thin, idempotent, and given only an execution id.

Nothing imports this module but the discovery shim ``scripts_app.tasks``: senders
address the actor by name (``runs.sending``), so the web side never loads the worker.
"""

from __future__ import annotations

import dramatiq

from scripts_app.runs import sending
from scripts_app.worker import execution


# No notify_shutdown: on SIGTERM a run is given PARSEQ_SHUTDOWN_GRACE to finish and is
# then stopped by its own supervisor (middleware.ShutdownGrace), which records why.
@dramatiq.actor(actor_name=sending.ACTOR_NAME, queue_name=sending.DEFAULT_QUEUE, max_retries=0)
def run_execution(execution_id: int) -> None:
    execution.execute(execution_id)
