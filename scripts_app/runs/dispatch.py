"""Starting runs: record the execution first, send a pointer to it after commit."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from scripts_app import validators
from scripts_app.errors import InvalidParams, InvalidRecipients
from scripts_app.files import storage_api
from scripts_app.jobs import versions
from scripts_app.models import Execution, Job, Trigger
from scripts_app.observability import logs
from scripts_app.runs import records, sending

logger = logging.getLogger(__name__)


def resolve_params(job: Job, params: Any) -> dict:
    """The job's defaults overlaid with ``params``, checked against its schema."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams([{"path": "$", "message": "params must be a JSON object"}])
    merged = {**(job.default_params or {}), **params}
    errors = validators.params_errors(merged, job.params_schema)
    errors += storage_api.input_key_errors(merged)  # params["input_files"]: stored file keys
    if errors:
        raise InvalidParams(errors)
    return merged


def checked_recipients(email: Any) -> str:
    """The ``notify_emails`` of a run from a trigger's ``"email"`` (an address or a list):
    they are mailed when that run ends, whatever the job's ``notify_on``."""
    try:
        return ", ".join(validators.email_list(email))
    except ValidationError as exc:
        raise InvalidRecipients(exc.messages[0]) from None


def trigger(
    job: Job,
    *,
    params: Any = None,
    trigger: Trigger | str,
    user=None,
    scheduled_for: datetime | None = None,
    send: bool = True,
    email: Any = None,
    version: tuple[int, str] | None = None,
    **fields: Any,
) -> Execution:
    """Record a queued execution of ``job`` and (by default) send it after commit.

    ``email``: recipients for this run alone (``checked_recipients``). Raises InvalidParams
    (or InvalidRecipients) before anything is written when the params are wrong.
    ``version`` (id, sha256): run that script version (its bytes and its lock) instead
    of the job's current script — a re-run.

    In a caller's transaction the run is inserted under a savepoint (a duplicate slot
    leaves that transaction usable), then stamped and sent once it commits. Outside
    one, the INSERT is a transaction of its own: the run is committed when it returns
    and sent at once, so the INSERT itself carries the ``sent_at`` stamp (see
    ``sending`` for why the stamp comes first) and there is no BEGIN, COMMIT or UPDATE. A
    process that dies between that INSERT and the publish leaves a run stamped but
    not sent, as one dying inside ``send`` does: it is re-sent after
    PARSEQ_RESEND_SENT_AFTER_SECONDS.
    """
    resolved = resolve_params(job, params)
    if email:
        fields["notify_emails"] = checked_recipients(email)
    execution = records.new_run(
        job,
        trigger=trigger,
        user=user,
        params=resolved,
        version=version or versions.pinned_version(job),
        scheduled_for=scheduled_for,
        **fields,
    )
    delay_ms = sending.delay_until(execution.not_before)  # a deferred run (run_after)
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            execution.save(force_insert=True)
        _recorded(execution)
        if send:
            sending.send_on_commit([sending.pointer(execution)], delay_ms=delay_ms)
        return execution
    if send:
        execution.sent_at = execution.created_at
    execution.save(force_insert=True)
    _recorded(execution)
    if send:
        sending.send([sending.pointer(execution)], stamped=True, delay_ms=delay_ms)
    return execution


def _recorded(execution: Execution) -> None:
    # With the request's request_id (bound by django-structlog): where a run's story starts.
    extra = {**logs.run_fields(execution), "trigger": str(execution.trigger)}
    logger.info("run %s of %s queued", execution.pk, execution.job.slug, extra=extra)
