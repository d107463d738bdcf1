"""Starting runs: record the execution first, send a pointer to it after commit."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from scripts_app import validators
from scripts_app.errors import InvalidParams
from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.services import files, scripts

logger = logging.getLogger(__name__)


def resolve_params(job: Job, params: Any) -> dict:
    """The job's defaults overlaid with ``params``, checked against its schema."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams([{"path": "$", "message": "params must be a JSON object"}])
    merged = {**(job.default_params or {}), **params}
    errors = validators.params_errors(merged, job.params_schema)
    errors += files.input_key_errors(merged)  # params["input_files"]: stored file keys
    if errors:
        raise InvalidParams(errors)
    return merged


def trigger(
    job: Job,
    *,
    params: Any = None,
    trigger: Trigger | str,
    user=None,
    scheduled_for: datetime | None = None,
    send: bool = True,
    **fields: Any,
) -> Execution:
    """Record a queued execution of ``job`` and (by default) send it after commit.

    Raises InvalidParams before anything is written when the params are wrong.
    """
    resolved = resolve_params(job, params)
    with transaction.atomic():
        version = scripts.current_version(job)
        execution = Execution.objects.create(
            job=job,
            trigger=trigger,
            triggered_by=user if getattr(user, "is_authenticated", False) else None,
            params=resolved,
            scheduled_for=scheduled_for,
            queue=job.queue,
            script_version=version,
            script_sha256=version.sha256,
            **fields,
        )
        if send:
            send_on_commit(execution)
    return execution


def send_on_commit(execution: Execution) -> None:
    execution_id, queue = execution.pk, execution.queue
    transaction.on_commit(lambda: send_or_defer(execution_id, queue))


def send_or_defer(execution_id: int, queue: str = "default") -> bool:
    """Send now; if the broker is down, leave the run queued (never fail the trigger).

    The run is already recorded, with ``sent_at`` unset, so the scheduler's
    ``recovery.resend_stale_queued`` step sends it once the broker is back.
    """
    from dramatiq.errors import BrokerError

    try:
        send(execution_id, queue)
    except BrokerError as exc:
        logger.warning(
            "broker unavailable; execution %s stays queued for re-send: %s", execution_id, exc
        )
        return False
    return True


def send(execution_id: int, queue: str = "default") -> None:
    """Publish the pointer message. Safe to repeat: the worker's claim dedupes.

    ``sent_at`` is stamped *before* publishing: a worker that consumes the message
    without running it clears the stamp (execution._mark_unsent), and that must not
    be overwritten by a stamp landing after it. A failed publish clears it again.
    """
    from scripts_app.tasks import enqueue_run

    mark_sent([execution_id])
    try:
        enqueue_run(execution_id, queue)
    except Exception:
        mark_unsent([execution_id])
        raise


def mark_sent(execution_ids: list[int]) -> None:
    Execution.objects.filter(pk__in=execution_ids).update(sent_at=timezone.now())


def mark_unsent(execution_ids: list[int]) -> None:
    """These runs have no message in the broker: the scheduler's re-send will send them."""
    Execution.objects.filter(pk__in=execution_ids, status=Status.QUEUED).update(sent_at=None)
