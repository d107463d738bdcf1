"""Saving a job: its row and the version of its current script, in one transaction.

The admin, the API and the demo loader all save jobs through ``save_job``, so a job's
script is stored as a version (``versions.py``) when the job is saved, whoever saved it,
with the lock of the dependencies it declares: a declaration that does not resolve
raises DependencyError and nothing is saved. Forms and the API call
``lock_before_save`` while validating, so that it is a field error instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from scripts_app.environments import locking
from scripts_app.errors import DependencyError, JobNotRunnable
from scripts_app.jobs import versions
from scripts_app.models import Job, JobKind

# A change to any of these makes a new script version (and so a new lock).
VERSIONED_FIELDS = frozenset({"script", "script_path", "requirements"})


def save_job(write: Callable[[], Job], *, script_changed: bool = True) -> Job:
    """Run ``write`` (it saves the job: a form's, a serializer's or ``Job.save``) and store
    the job's current script as a version; ``script_changed=False`` skips that step."""
    with transaction.atomic():
        job = write()
        if script_changed and job.kind == JobKind.SCRIPT:  # a code job has no script
            versions.current_version(job)
    return job


def lock_before_save(job: Job, upload=None) -> None:
    """Resolve what the job's script (``upload``, a new file, or its current script) and
    its ``requirements`` declare, before anything is saved; forms and the API call it so
    that a declaration that does not resolve saves nothing. The lock is remembered and
    stored by ``save_job`` (``versions.version_for``) when the version is made.

    DependencyError says why; its ``field`` is the form field to show it on.
    """
    if upload is not None:
        upload.seek(0)
        source, origin = upload.read(), "script"
        upload.seek(0)
    else:
        try:
            source, _ = versions.read_current_source(job)
        except (JobNotRunnable, OSError):  # no script yet, or unreadable: checked elsewhere
            return
        origin = "script" if job.script else "script_path"
    try:
        locking.lock_script(source, job.requirements)
    except DependencyError as exc:
        blamed = job.requirements.strip() and not locking.has_block(source)
        exc.field = "requirements" if blamed else origin
        raise
