"""Building Execution rows: the one constructor every way of recording a run goes through.

A run is on its job's queue, pinned to a script version, and credited to the person
who started it (when signed in); a retry repeats the attempt it follows; a scheduled
slot that cannot run is recorded already final, so no slot is lost silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.observability import logs


def new_run(
    job: Job,
    *,
    trigger: Trigger | str,
    params: dict | None = None,
    version: tuple[int | None, str] = (None, ""),
    user: Any = None,
    **fields: Any,
) -> Execution:
    """An unsaved Execution of ``job`` (queued unless ``status`` says otherwise).

    ``version`` is the (id, sha256) of the script version it runs; ``fields`` set or
    override any other column (``queue`` defaults to the job's)."""
    if getattr(user, "is_authenticated", False):
        fields["triggered_by"] = user
    fields.setdefault("queue", job.queue)
    fields.setdefault("request_id", logs.current_request_id())
    version_id, sha256 = version
    return Execution(
        job=job,
        trigger=trigger,
        params={} if params is None else params,
        script_version_id=version_id,
        script_sha256=sha256,
        **fields,
    )


def next_attempt(failed: Execution, not_before: datetime) -> Execution:
    """The attempt after ``failed``: same params, script version, queue and slot."""
    return new_run(
        failed.job,
        trigger=Trigger.RETRY,
        params=failed.params,
        version=(failed.script_version_id, failed.script_sha256),
        queue=failed.queue,
        triggered_by_id=failed.triggered_by_id,
        scheduled_for=failed.scheduled_for,
        not_before=not_before,
        attempt=failed.attempt + 1,
        retry_of_id=failed.retry_of_id or failed.pk,
        notify_emails=failed.notify_emails,
        priority=failed.priority,
    )


def ended_slot(
    job: Job, slot: datetime, *, status: Status, error: str, params: dict | None = None
) -> Execution:
    """A scheduled slot recorded final without running: skipped, or failed to start."""
    now = timezone.now()
    return new_run(
        job,
        trigger=Trigger.SCHEDULE,
        params=params,
        status=status,
        scheduled_for=slot,
        error=error,
        created_at=now,
        finished_at=now,
    )
