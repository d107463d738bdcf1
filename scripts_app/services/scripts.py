"""Script versions: every distinct script content a job ran is kept, addressed by sha256."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from scripts_app import validators
from scripts_app.errors import JobNotRunnable
from scripts_app.models import Job, ScriptVersion


def read_current_source(job: Job) -> tuple[bytes, str]:
    """The bytes of the job's current script and where they came from."""
    if job.script:
        with job.script.open("rb") as handle:
            return handle.read(), job.script.name
    if job.script_path:
        try:
            path = validators.resolve_script_path(job.script_path)
        except ValidationError as exc:
            raise JobNotRunnable(f"{job.slug}: {exc.messages[0]}") from None
        return path.read_bytes(), f"parsers/{job.script_path}"
    raise JobNotRunnable(f"{job.slug} has no script")


def version_for(job: Job, source: bytes, origin: str) -> ScriptVersion:
    """The ScriptVersion holding exactly ``source``, stored once per content."""
    digest = hashlib.sha256(source).hexdigest()
    existing = ScriptVersion.objects.filter(job=job, sha256=digest).first()
    if existing:
        return existing
    name = default_storage.save(f"scripts/{job.slug}/versions/{digest}.py", ContentFile(source))
    version, _ = ScriptVersion.objects.get_or_create(
        job=job,
        sha256=digest,
        defaults={"file": name, "size": len(source), "source": origin[:300]},
    )
    return version


def current_version(job: Job) -> ScriptVersion:
    source, origin = read_current_source(job)
    return version_for(job, source, origin)
