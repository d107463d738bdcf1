"""The registry of code jobs into Job rows (kind=code): at ``migrate`` (post_migrate) and
by ``manage.py syncjobs``.

Which wins, code or the admin: the code owns every setting it declares — applied at
creation and again on every sync (the admin shows them read-only) — except the
operator's fields (``registry.OPERATOR_FIELDS``: ``enabled`` and the schedule), which the
code gives only when the job is created; after that an operator's edits stay.
``sync_jobs(reset_operator_fields=True)`` (``syncjobs --reset-schedules``) applies the
code's values to those too. Settings the code does not declare are the operator's.

Idempotent: a row is saved only when a value changes, so a second sync writes nothing
(``updated_at`` stays). A code job gone from the code is disabled, its runs kept. A
slug held by an uploaded job is an error naming both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from scripts_app.code import registry
from scripts_app.code.registry import JobSpec
from scripts_app.models import Job, JobKind

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{len(names)} {what}" + (f" ({', '.join(names)})" if names else "")
            for what, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("disabled", self.disabled),
            )
        ]
        return f"code jobs: {', '.join(parts)}, {len(self.unchanged)} unchanged"


def sync_jobs(
    specs: dict[str, JobSpec] | None = None, *, reset_operator_fields: bool = False
) -> SyncReport:
    """Make the Job rows match the code jobs (``registry.registered()`` by default)."""
    specs = registry.registered() if specs is None else specs
    report = SyncReport()
    with transaction.atomic():
        rows = {job.slug: job for job in Job.objects.select_for_update().filter(slug__in=specs)}
        _refuse_clashes(specs, rows)
        for slug, spec in sorted(specs.items()):
            job = rows.get(slug)
            if job is None:
                _create(spec)
                report.created.append(slug)
            elif _update(job, spec, reset_operator_fields):
                report.updated.append(slug)
            else:
                report.unchanged.append(slug)
        report.disabled = _disable_gone(set(specs))
    return report


def _refuse_clashes(specs: dict[str, JobSpec], rows: dict[str, Job]) -> None:
    for slug, job in rows.items():
        if job.kind != JobKind.CODE:
            raise ImproperlyConfigured(
                f"code job {specs[slug].entrypoint} has the slug {slug!r} of the "
                f"{job.get_kind_display().lower()} job “{job.name}” (#{job.pk}): rename one"
            )


def _create(spec: JobSpec) -> Job:
    job = Job(kind=JobKind.CODE, entrypoint=spec.entrypoint, **spec.settings)
    job.full_clean(exclude=["script", "script_path"])
    job.save()
    logger.info("code job %s created from %s", spec.slug, spec.entrypoint)
    return job


def _update(job: Job, spec: JobSpec, reset_operator_fields: bool) -> bool:
    """Apply the code's settings; saved only when a value differs."""
    wanted = {"entrypoint": spec.entrypoint, **spec.settings}
    if not reset_operator_fields:
        wanted = {k: v for k, v in wanted.items() if k not in registry.OPERATOR_FIELDS}
    changed = [name for name, value in wanted.items() if getattr(job, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(job, name, wanted[name])
    job.full_clean(exclude=["script", "script_path"], validate_unique=False)
    job.save(update_fields=[*changed, "updated_at"])
    logger.info("code job %s updated from %s: %s", job.slug, spec.entrypoint, ", ".join(changed))
    return True


def _disable_gone(present: set[str]) -> list[str]:
    """Code jobs no longer in the code: disabled (no scheduled runs), history kept."""
    gone = Job.objects.filter(kind=JobKind.CODE, enabled=True).exclude(slug__in=present)
    disabled = []
    for job in gone.order_by("slug"):
        job.enabled = False
        job.save(update_fields=["enabled", "updated_at"])  # save(): re-plans next_run_at
        logger.warning("code job %s is gone from the code: disabled", job.slug)
        disabled.append(job.slug)
    return disabled


def sync_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver: sync when the app's tables exist (PARSEQ_SYNC_JOBS_ON_MIGRATE)."""
    from django.conf import settings

    if not getattr(settings, "PARSEQ_SYNC_JOBS_ON_MIGRATE", True):
        return
    if kwargs.get("using", "default") != "default" or not _tables_are_current(kwargs.get("apps")):
        return
    report = sync_jobs()
    stdout = kwargs.get("stdout")
    if stdout and kwargs.get("verbosity", 1) >= 1 and (report.created or report.updated):
        stdout.write(f"  {report}\n")


def _tables_are_current(state) -> bool:
    """False after a migration back to before code jobs (migration 0005): the table has
    no ``kind`` or ``entrypoint`` column then, and there is nothing to sync into."""
    if state is None:
        return True
    try:
        fields = {field.name for field in state.get_model("scripts_app", "Job")._meta.fields}
    except LookupError:
        return False
    return {"kind", "entrypoint"} <= fields
