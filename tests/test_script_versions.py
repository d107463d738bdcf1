"""Pinning the script version of many scheduled runs at once (``versions.pinned_versions``)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models.fields.files import FieldFile
from django.test.utils import CaptureQueriesContext

from scripts_app import validators
from scripts_app.jobs import versions
from scripts_app.models import Job, ScriptVersion
from scripts_app.scheduling import loop
from tests.conftest import script_file

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def parsers(settings, tmp_path):
    directory = tmp_path / "parsers"
    directory.mkdir()
    (directory / "tool.py").write_text("def main(data):\n    return {'v': 1}\n")
    settings.PARSEQ_SCRIPTS_DIR = directory
    return directory


def path_job(slug: str, script_path: str = "tool.py") -> Job:
    job = Job(name=slug, slug=slug, script_path=script_path, cron="*/5 * * * *", timezone="UTC")
    job.save()
    return job


def due(job: Job, at: datetime) -> None:
    Job.objects.filter(pk=job.pk).update(next_run_at=at, overlap_policy="allow")


def reupload(job: Job, source: str) -> None:
    job.script = script_file(source, f"{job.slug}.py")  # the same file name, uploaded again
    job.save()


def test_an_unchanged_upload_is_pinned_without_reading_it(make_job, monkeypatch):
    job = make_job(slug="echo")
    version = versions.current_version(job)

    def no_reading(*args, **kwargs):
        raise AssertionError("the upload was read")

    monkeypatch.setattr(FieldFile, "open", no_reading)
    with CaptureQueriesContext(connection) as queries:
        pinned = versions.pinned_versions([job])
    assert pinned == {job.pk: (version.pk, version.sha256)}
    assert len(queries) == 1


def test_a_reupload_under_the_same_file_name_gets_a_new_version(make_job):
    job = make_job(slug="echo")
    first = versions.current_version(job)
    reupload(job, "def main(data):\n    return 2\n")
    assert job.script.name != first.source  # storage never reuses an upload's name

    assert versions.pinned_versions([job]) == {}  # not stored yet: the one-by-one path
    second = versions.current_version(job)
    assert second.sha256 != first.sha256
    assert versions.pinned_versions([job]) == {job.pk: (second.pk, second.sha256)}


def test_the_scheduler_runs_a_reuploaded_script_with_its_new_version(
    make_job, django_capture_on_commit_callbacks
):
    job = make_job(slug="echo", cron="*/5 * * * *", timezone="UTC")
    due(job, T0)
    loop.tick(T0 + timedelta(seconds=1))  # first run: stores the version
    reupload(job, "def main(data):\n    return 2\n")
    due(job, T0 + timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        loop.tick(T0 + timedelta(minutes=5, seconds=1))
        loop.tick(T0 + timedelta(minutes=10, seconds=1))  # the batch path, pinned by name
    first, second, third = job.executions.order_by("scheduled_for")
    assert second.script_sha256 != first.script_sha256
    assert third.script_version_id == second.script_version_id
    with second.script_version.file.open("rb") as handle:
        assert handle.read() == b"def main(data):\n    return 2\n"
    assert third.sent_at is not None


def test_an_upload_name_with_two_versions_is_read_and_hashed(make_job):
    job = make_job(slug="echo")
    version = versions.current_version(job)
    ScriptVersion.objects.create(
        job=job, sha256="0" * 64, file="scripts/echo/other.py", size=1, source=job.script.name
    )
    assert versions.pinned_versions([job]) == {job.pk: (version.pk, version.sha256)}


def test_a_parsers_file_is_read_once_per_batch_and_rehashed_when_it_changes(
    db, parsers, monkeypatch
):
    jobs = [path_job(f"tool-{i}") for i in range(3)]
    first = {job.pk: versions.current_version(job) for job in jobs}
    reads = []
    resolve = validators.resolve_script_path
    monkeypatch.setattr(
        validators, "resolve_script_path", lambda value: reads.append(value) or resolve(value)
    )
    assert versions.pinned_versions(jobs) == {
        pk: (version.pk, version.sha256) for pk, version in first.items()
    }
    assert reads == ["tool.py"]

    (parsers / "tool.py").write_text("def main(data):\n    return {'v': 2}\n")
    assert versions.pinned_versions(jobs) == {}  # changed in place: not pinned to old bytes


def test_a_job_that_cannot_run_is_left_to_the_one_by_one_path(db, parsers, make_job):
    broken = path_job("broken")
    Job.objects.filter(pk=broken.pk).update(script_path="missing.py")
    broken.refresh_from_db()
    ok = make_job(slug="echo")
    version = versions.current_version(ok)
    assert versions.pinned_versions([broken, ok]) == {ok.pk: (version.pk, version.sha256)}
