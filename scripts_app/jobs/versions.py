"""Script versions: every distinct script content a job ran is kept, addressed by sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from scripts_app import validators
from scripts_app.environments import locking
from scripts_app.environments.metadata import requirements_digest
from scripts_app.errors import DependencyError, JobNotRunnable
from scripts_app.models import Job, JobKind, ScriptVersion

# What a code job's (or a task's) run is pinned to: it has no script version.
NO_VERSION: tuple[None, str] = (None, "")


def read_current_source(job: Job) -> tuple[bytes, str]:
    """The bytes of the job's current script and where they came from."""
    if job.script:
        with job.script.open("rb") as handle:
            return handle.read(), job.script.name
    if job.script_path:
        return _read_parsers_file(job), f"parsers/{job.script_path}"
    raise JobNotRunnable(f"{job.slug} has no script")


def _read_parsers_file(job: Job) -> bytes:
    try:
        path = validators.resolve_script_path(job.script_path)
    except ValidationError as exc:
        raise JobNotRunnable(f"{job.slug}: {exc.messages[0]}") from None
    return path.read_bytes()


def version_for(job: Job, source: bytes, origin: str) -> ScriptVersion:
    """The ScriptVersion holding exactly ``source`` (with the job's ``requirements``),
    stored once per content with the lock of what they declare.

    Locking a new version asks uv (environments/locking.py): a declaration that does not
    resolve raises DependencyError and stores nothing. Forms and the API lock while
    validating (``saving.lock_before_save``), so here the answer is remembered and uv is
    not asked again.
    """
    digest = hashlib.sha256(source).hexdigest()
    requirements = requirements_digest(job.requirements)
    same = {"job": job, "sha256": digest, "requirements_sha256": requirements}
    existing = ScriptVersion.objects.filter(**same).first()
    if existing:
        return existing
    lock = _lock(job, source)
    name = default_storage.save(f"scripts/{job.slug}/versions/{digest}.py", ContentFile(source))
    environment = {}
    if lock is not None:
        environment = {
            "dependencies": list(lock.declared.dependencies),
            "requires_python": lock.declared.requires_python,
            "lock": lock.text,
            "lock_sha256": lock.sha256,
        }
    version, _ = ScriptVersion.objects.get_or_create(
        **same,
        defaults={"file": name, "size": len(source), "source": origin[:300], **environment},
    )
    return version


def _lock(job: Job, source: bytes) -> locking.Lock | None:
    """The lock of a new version; a failure is kept on the job for its page to show."""
    try:
        lock = locking.lock_script(source, job.requirements)
    except DependencyError as exc:
        if job.pk and job.dependency_error != str(exc):
            job.dependency_error = str(exc)
            Job.objects.filter(pk=job.pk).update(dependency_error=job.dependency_error)
        raise
    if job.pk and job.dependency_error:
        job.dependency_error = ""
        Job.objects.filter(pk=job.pk).update(dependency_error="")
    return lock


def current_version(job: Job) -> ScriptVersion:
    source, origin = read_current_source(job)
    return version_for(job, source, origin)


SOURCE_LENGTH = ScriptVersion._meta.get_field("source").max_length


def pinned_versions(jobs: Iterable[Job]) -> dict[int, tuple[int, str]]:
    """job id → (version id, sha256) of the stored version holding each job's current
    script, for a whole batch of jobs in one or two queries (the scheduler's fast path).

    A job left out has no stored version of its current script yet, or cannot run
    (no script, a bad parsers/ path): ``current_version`` sorts it out one by one.

    An uploaded script is not re-read when a version was stored from its upload
    name: upload names are never reused (local storage picks a free name, S3 runs
    with AWS_S3_FILE_OVERWRITE=False), so the same name means the same bytes. A new
    upload gets a new name and is read and hashed as before. A parsers/ file can
    change in place, so it is always hashed, but once per path per call.
    """
    jobs = list(jobs)
    code = {job.pk: NO_VERSION for job in jobs if job.kind != JobKind.SCRIPT}
    jobs = [job for job in jobs if job.pk not in code]
    requirements = {job.pk: requirements_digest(job.requirements) for job in jobs}
    uploads = {
        job.pk: job.script.name
        for job in jobs
        if job.script and len(job.script.name) <= SOURCE_LENGTH
    }
    digests = _current_digests([job for job in jobs if job.pk not in uploads])
    pinned = _by_upload_name(uploads, requirements)
    # Uploads with no version under their name (a new upload, or one stored under
    # another name with the same bytes): read and hash them, as before.
    digests.update(
        _current_digests([job for job in jobs if job.pk in uploads and job.pk not in pinned])
    )
    pinned.update(_by_digest(digests, requirements))
    pinned.update(code)
    return pinned


def _current_digests(jobs: list[Job]) -> dict[int, str]:
    """job id → sha256 of its current script; a job that cannot run is left out."""
    digests: dict[int, str] = {}
    by_path: dict[str, str | None] = {}  # one read per parsers/ file
    for job in jobs:
        if job.script:
            source, _ = read_current_source(job)
            digests[job.pk] = hashlib.sha256(source).hexdigest()
            continue
        if not job.script_path:
            continue
        if job.script_path not in by_path:
            try:
                by_path[job.script_path] = hashlib.sha256(_read_parsers_file(job)).hexdigest()
            except JobNotRunnable:
                by_path[job.script_path] = None
        if (digest := by_path[job.script_path]) is not None:
            digests[job.pk] = digest
    return digests


def _by_upload_name(
    uploads: dict[int, str], requirements: dict[int, str]
) -> dict[int, tuple[int, str]]:
    if not uploads:
        return {}
    rows = (
        ScriptVersion.objects.filter(job_id__in=uploads, source__in=set(uploads.values()))
        .order_by()
        .values_list("job_id", "source", "pk", "sha256", "requirements_sha256")
    )
    found: dict[int, set[tuple[int, str]]] = {}
    for job_id, source, pk, sha256, wanted in rows:
        if uploads[job_id] == source and requirements[job_id] == wanted:
            found.setdefault(job_id, set()).add((pk, sha256))
    # Two versions from one name would mean the name was reused: read that one instead.
    return {job_id: next(iter(pins)) for job_id, pins in found.items() if len(pins) == 1}


def _by_digest(digests: dict[int, str], requirements: dict[int, str]) -> dict[int, tuple[int, str]]:
    if not digests:
        return {}
    rows = (
        ScriptVersion.objects.filter(job_id__in=digests, sha256__in=set(digests.values()))
        .order_by()
        .values_list("job_id", "sha256", "pk", "requirements_sha256")
    )
    return {
        job_id: (pk, sha256)
        for job_id, sha256, pk, wanted in rows
        if digests[job_id] == sha256 and requirements[job_id] == wanted
    }


def pinned_version(job: Job) -> tuple[int, str]:
    """(version id, sha256) of the stored version holding exactly ``job``'s current
    script, stored first if it is new: what a new run is pinned to.

    An unchanged upload is found by its name without being read (see
    ``pinned_versions`` for why that is exact), in one small query; anything else
    (a parsers/ file, a new upload) is read, hashed and stored by ``current_version``.
    A code job has none: ``NO_VERSION``.
    """
    if job.kind != JobKind.SCRIPT:
        return NO_VERSION
    if job.script and len(job.script.name) <= SOURCE_LENGTH:
        stored = _stored_under_name(job.pk, job.script.name, requirements_digest(job.requirements))
        if len(stored) == 1:  # two would mean the name was reused: read it instead
            return stored[0]
    version = current_version(job)
    return version.pk, version.sha256


# Every trigger runs this; as hand-written SQL it costs a tenth of the ORM query's CPU.
_UNDER_NAME = (
    f"SELECT id, sha256 FROM {ScriptVersion._meta.db_table} "
    "WHERE job_id = %s AND source = %s AND requirements_sha256 = %s LIMIT 2"
)


def _stored_under_name(job_id: int, name: str, requirements: str) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(_UNDER_NAME, [job_id, name, requirements])
        return cursor.fetchall()
