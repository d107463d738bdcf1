"""Reading runs back for callers that wait on them (``?wait=``, CLI)."""

from __future__ import annotations

import time

from scripts_app.models import Execution

MAX_WAIT_SECONDS = 300  # the longest ?wait= an HTTP client may ask for


def wait_for(execution: Execution, seconds: float | None = None, poll: float = 0.1) -> Execution:
    """Refresh ``execution`` until it ends or ``seconds`` pass (None: until it ends);
    returns it either way. The one wait loop: ``?wait=``, ``runjob --enqueue``, tests."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not execution.is_final and (deadline is None or time.monotonic() < deadline):
        time.sleep(poll)
        execution.refresh_from_db()
    return execution


def summary(execution: Execution) -> dict:
    """The ``?wait=`` answer: did it work, what did it return, how long did it take."""
    duration = execution.duration
    return {
        "id": execution.pk,
        "status": execution.status,
        "success": execution.succeeded,
        "result": execution.result,
        "error": execution.error,
        "execution_time": round(duration.total_seconds(), 3) if duration else None,
    }
