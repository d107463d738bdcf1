"""What happens once a run has its final status: retry it, mail about it, and let
the next waiting run take its slot. Always after the status is written, so none
of this can delay or change it."""

from __future__ import annotations

from scripts_app.models import Execution
from scripts_app.runs import concurrency, notify, retries


def after_final(execution: Execution) -> None:
    """Follow-ups of a run that just reached its final status (``execution`` is fresh)."""
    retries.schedule_retry(execution)
    concurrency.send_next(execution.job)
    notify.notify(execution)
