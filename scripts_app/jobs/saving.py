"""Saving a job: its row and the version of its current script, in one transaction.

The admin, the API and the demo loader all save jobs through ``save_job``, so a job's
script is stored as a version (``versions.py``) when the job is saved, whoever saved it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from scripts_app.jobs import versions
from scripts_app.models import Job


def save_job(write: Callable[[], Job], *, script_changed: bool = True) -> Job:
    """Run ``write`` (it saves the job: a form's, a serializer's or ``Job.save``) and store
    the job's current script as a version; ``script_changed=False`` skips that step."""
    with transaction.atomic():
        job = write()
        if script_changed:
            versions.current_version(job)
    return job
