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
    version: tuple[int, str] | None = None,
    **fields: Any,
) -> Execution:
    """Record a queued execution of ``job`` and (by default) send it after commit.

    Raises InvalidParams before anything is written when the params are wrong.
    ``version`` (id, sha256): run that script version (its bytes and its lock) instead
    of the job's current script — a re-run.

    In a caller's transaction the run is inserted under a savepoint (a duplicate slot
    leaves that transaction usable), then stamped and sent once it commits. Outside
    one, the INSERT is a transaction of its own: the run is committed when it returns
    and sent at once, so the INSERT itself carries the ``sent_at`` stamp (see ``send``
    for why the stamp comes first) and there is no BEGIN, COMMIT or UPDATE. A
    process that dies between that INSERT and the publish leaves a run stamped but
    not sent, as one dying inside ``send`` does: it is re-sent after
    PARSEQ_RESEND_SENT_AFTER_SECONDS.
    """
    resolved = resolve_params(job, params)
    version_id, sha256 = version or scripts.pinned_version(job)
    execution = Execution(
        job=job,
        trigger=trigger,
        triggered_by=user if getattr(user, "is_authenticated", False) else None,
        params=resolved,
        scheduled_for=scheduled_for,
        queue=job.queue,
        script_version_id=version_id,
        script_sha256=sha256,
        **fields,
    )
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            execution.save(force_insert=True)
        if send:
            send_on_commit(execution)
        return execution
    if send:
        execution.sent_at = execution.created_at
    execution.save(force_insert=True)
    if send:
        send_or_defer(execution.pk, execution.queue, stamped=True)
    return execution


def send_on_commit(execution: Execution) -> None:
    execution_id, queue = execution.pk, execution.queue
    transaction.on_commit(lambda: send_or_defer(execution_id, queue))


def send_or_defer(execution_id: int, queue: str = "default", *, stamped: bool = False) -> bool:
    """Send now; if the broker is down, leave the run queued (never fail the trigger).

    The failed publish leaves ``sent_at`` unset, so the scheduler's
    ``recovery.resend_stale_queued`` step sends the run once the broker is back.
    ``stamped``: the run's row carries its ``sent_at`` already; only publish.
    """
    from dramatiq.errors import BrokerError

    try:
        if stamped:
            publish(execution_id, queue)
        else:
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
    mark_sent([execution_id])
    publish(execution_id, queue)


def publish(execution_id: int, queue: str = "default") -> None:
    """Publish the pointer message of a run stamped sent; a failed publish clears the stamp."""
    from scripts_app.tasks import enqueue_run

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
