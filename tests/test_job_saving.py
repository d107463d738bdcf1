"""One job-save service: the admin, the API and the demo loader store the script version
of a job when they save it, in the same transaction."""

import pytest

from scripts_app.errors import JobNotRunnable
from scripts_app.jobs import saving
from scripts_app.jobs.demo import load_demo_jobs
from scripts_app.models import Job, ScriptVersion
from tests.conftest import script_file


def test_the_demo_loader_stores_each_jobs_script_version(db):
    created = load_demo_jobs().created
    assert created
    for job in Job.objects.filter(slug__in=created):
        version = ScriptVersion.objects.get(job=job)
        assert version.source == f"parsers/{job.script_path}"


def test_the_api_stores_the_version_of_an_uploaded_script(api):
    response = api.post(
        "/api/v1/jobs/",
        {"name": "Up", "slug": "up", "script": script_file("def main(d):\n    return d\n")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert ScriptVersion.objects.filter(job__slug="up").count() == 1


def test_a_job_whose_version_cannot_be_stored_is_not_saved_either(db):
    def write() -> Job:
        job = Job(name="Nothing", slug="nothing")  # neither an upload nor a parsers/ path
        job.save()
        return job

    with pytest.raises(JobNotRunnable):
        saving.save_job(write)
    assert not Job.objects.filter(slug="nothing").exists()


def test_an_edit_that_leaves_the_script_alone_stores_no_version(make_job):
    job = make_job()
    job.description = "edited"
    saving.save_job(lambda: job.save() or job, script_changed=False)
    assert not ScriptVersion.objects.filter(job=job).exists()
