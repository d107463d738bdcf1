"""Operator controls on a run: cancel it, run it again."""

from __future__ import annotations

from django.utils import timezone

from scripts_app.errors import NotCancellable
from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch, state


def cancel(execution: Execution) -> Execution:
    """Cancel a run: a queued one at once; a running one is stopped by its worker.

    The worker polls ``cancel_requested_at`` every heartbeat, then signals the
    whole process group (SIGTERM, grace, SIGKILL) and records ``cancelled``.
    """
    now = timezone.now()
    if state.move(
        execution.pk,
        Status.QUEUED,
        Status.CANCELLED,
        cancel_requested_at=now,
        error="cancelled before it started",
    ):
        execution.refresh_from_db()
        return execution
    updated = Execution.objects.filter(
        pk=execution.pk, status=Status.RUNNING, cancel_requested_at__isnull=True
    ).update(cancel_requested_at=now)
    execution.refresh_from_db()
    if not updated and execution.status != Status.RUNNING:
        raise NotCancellable(f"run #{execution.pk} has already ended ({execution.status})")
    return execution


def rerun(execution: Execution, user=None, trigger: Trigger | str = Trigger.ADMIN) -> Execution:
    """A new run of the same job with the same params and the same script version: its
    bytes and its lock, so exactly the packages it ran with. ("Run now" runs the job's
    current script.)"""
    version = None
    if execution.script_version_id:
        version = (execution.script_version_id, execution.script_sha256)
    return dispatch.trigger(
        execution.job, params=execution.params, trigger=trigger, user=user, version=version
    )
