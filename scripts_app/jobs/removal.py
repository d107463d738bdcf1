"""Deleting a job: its whole history goes with it.

A job is deleted together with its script versions, executions, logs, artifacts and
live log chunks (the database rows cascade; the stored files are removed after the
transaction commits). To stop a job but keep its history, disable it instead
(``enabled = false``). Files in the file storage API (``files/…``, including the
``runs/<id>/…`` results a run handed back) are not the job's and are kept.
A job with a queued or running execution cannot be deleted: cancel those first.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import transaction

from scripts_app.errors import JobBusy
from scripts_app.models import ACTIVE_STATUSES, Artifact, Execution, Job, ScriptVersion
from scripts_app.observability import tallies

logger = logging.getLogger(__name__)


def stored_names(job: Job) -> list[str]:
    names = [job.script.name] if job.script else []
    names += ScriptVersion.objects.filter(job=job).values_list("file", flat=True)
    names += Execution.objects.filter(job=job).exclude(log="").values_list("log", flat=True)
    names += Artifact.objects.filter(execution__job=job).values_list("file", flat=True)
    return [name for name in names if name]


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError as exc:  # a missing or unreachable file must not undo the delete
            logger.warning("could not delete stored file %s: %s", name, exc)


@transaction.atomic
def delete_job(job: Job) -> None:
    locked = Job.objects.select_for_update().get(pk=job.pk)
    active = locked.executions.filter(status__in=ACTIVE_STATUSES).count()
    if active:
        raise JobBusy(
            f"{locked.slug} has {active} queued or running run(s); cancel them first "
            "(or disable the job to keep its history)."
        )
    names = stored_names(locked)
    # Runs first: they PROTECT the script versions that the job's own delete cascades to.
    tallies.fold(Execution.objects.filter(job=locked))  # its runs still count in the metrics
    Execution.objects.filter(job=locked).delete()
    locked.delete()
    transaction.on_commit(lambda: _delete_files(names))
