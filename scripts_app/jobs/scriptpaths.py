"""The job behind seed 003's ``POST /api/v1/scripts/<path>``: the ``.py`` file at that
path under the scripts directory (``PARSEQ_SCRIPTS_DIR``), as a job.

The job is the one whose ``script_path`` is that path (the oldest, if several); on the
first call for a path none exists, so one is made — named after the path, its slug made
from it (``test/echo.py`` → ``test-echo``), its timeout ``MAX_SCRIPT_EXECUTION_TIME`` —
and from then on it is an ordinary job: in the admin, with its runs, editable (secrets,
timeout, notifications), and every call is one of its executions.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from scripts_app import validators
from scripts_app.errors import InvalidScriptPath, ScriptNotFound
from scripts_app.jobs import saving, slugs
from scripts_app.models import Job

DESCRIPTION = "Made by POST /api/v1/scripts/{path} on its first call."


def job_for_path(path: str) -> Job:
    """The job that runs ``path``; ScriptNotFound (404) or InvalidScriptPath (400)."""
    try:
        validators.resolve_script_path(path)
    except ValidationError as exc:
        error = ScriptNotFound if exc.code == "missing" else InvalidScriptPath
        raise error(exc.messages[0]) from None
    job = _existing(path)
    if job is not None:
        return job
    try:
        return _make(path)
    except IntegrityError:  # a concurrent first call made it (or took the slug) meanwhile
        return _existing(path) or _make(path)


def _existing(path: str) -> Job | None:
    return Job.objects.filter(script_path=path).order_by("pk").first()


def _make(path: str) -> Job:
    stem = path[: -len(".py")] if path.endswith(".py") else path
    job = Job(
        name=path[: Job._meta.get_field("name").max_length],
        slug=slugs.unique_slug(stem.replace("/", "-")),
        script_path=path,
        description=DESCRIPTION.format(path=path),
        timeout=settings.MAX_SCRIPT_EXECUTION_TIME,
    )

    def write() -> Job:
        job.full_clean()
        job.save(force_insert=True)
        return job

    with transaction.atomic():
        return saving.save_job(write)
