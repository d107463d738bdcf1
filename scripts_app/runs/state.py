"""The execution state machine. Status only moves forward, by conditional UPDATEs:

    queued ──claim──► running ──finish──► succeeded | failed | timed_out | cancelled
    queued ──────────────────────────────► cancelled (cancelled before it started)

(Skipped slots and runs refused by their schema are inserted already final.)

A duplicate delivery, a late message or a second scheduler matches no row and
changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from scripts_app.models import FINAL_STATUSES, Execution, Status
from scripts_app.runs import prepared

ALLOWED = {
    Status.QUEUED: {Status.RUNNING, Status.CANCELLED},
    Status.RUNNING: {Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED},
}


def move(
    execution_id: int, source: Status, target: Status, *, where: Q | None = None, **fields
) -> bool:
    """Move one execution from ``source`` to ``target``; False if it was not in ``source``
    (or did not match ``where``)."""
    if target not in ALLOWED.get(source, set()):
        raise ValueError(f"{source} → {target} is not a transition")
    if target in FINAL_STATUSES:
        fields.setdefault("finished_at", timezone.now())
    if where is None:  # the worker's claim and finish: SQL built once, not per run
        changed = prepared.update_where(
            Execution, {"pk": execution_id, "status": source}, {"status": target, **fields}
        )
        if changed is not None:
            return changed == 1
    rows = Execution.objects.filter(pk=execution_id, status=source)
    if where is not None:
        rows = rows.filter(where)
    return rows.update(status=target, **fields) == 1


def claim(execution_id: int, worker: str, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return move(
        execution_id, Status.QUEUED, Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
    )


def finish(execution_id: int, target: Status, *, where: Q | None = None, **fields) -> bool:
    return move(execution_id, Status.RUNNING, target, where=where, **fields)
