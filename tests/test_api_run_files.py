"""A script reads uploaded files by key and hands results back as keys (through the
worker: scripts never get storage credentials)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from scripts_app.files import storage_api
from scripts_app.models import Execution, Status
from scripts_app.runs import dispatch, sending, waiting

EXAMPLE = Path(django_settings.BASE_DIR) / "docs" / "examples" / "csv_stats.py"


@pytest.fixture
def csv_stats(api):
    with EXAMPLE.open("rb") as handle:
        response = api.post(
            "/api/v1/jobs/",
            {"name": "CSV stats", "slug": "csv-stats", "script": handle},
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    return response.json()


def test_upload_then_run_with_the_key_then_download_the_result(api, csv_stats, worker):
    upload = api.post(
        "/api/v1/files/?prefix=uploads",
        {"file": SimpleUploadedFile("sales.csv", b"region,amount\neu,10\nus,32\n")},
        format="multipart",
    )
    key = upload.json()["key"]
    run = api.post(
        "/api/v1/jobs/csv-stats/run/?wait=30",
        {"data": {"input_files": [key]}},
        format="json",
    )
    assert run.status_code == 200, run.json()
    body = run.json()
    assert body["success"] is True, body
    report_key = body["result"]["report"]
    assert report_key == f"runs/{body['id']}/report.json"
    download = api.get(f"/api/v1/files/{report_key}")
    assert download.status_code == 200
    report = json.loads(b"".join(download.streaming_content))
    assert report == {
        "source": key,
        "rows": 2,
        "columns": ["region", "amount"],
        "totals": {"amount": 42.0},
    }


def test_a_script_cannot_read_a_file_it_did_not_list(make_job, worker):
    job = make_job(
        "from scripts_app import runtime\n"
        "def main(d):\n"
        "    runtime.input_file('uploads/other.csv')\n",
        slug="sneaky",
    )
    execution = waiting.wait_for(dispatch.trigger(job, trigger="api"), 20)
    assert execution.status == Status.FAILED
    assert "was not fetched" in execution.error


def test_a_key_deleted_after_the_trigger_fails_the_run_clearly(api, make_job, worker):
    job = make_job("def main(d):\n    return 1\n", slug="late")
    stored = storage_api.upload(SimpleUploadedFile("a.csv", b"x"), "uploads")
    execution = dispatch.trigger(
        job, params={"input_files": [stored.key]}, trigger="api", send=False
    )
    storage_api.delete(stored.key)
    sending.send([(execution.pk, execution.queue)])
    execution = waiting.wait_for(Execution.objects.get(pk=execution.pk), 20)
    assert execution.status == Status.FAILED
    assert f"input file “{stored.key}” does not exist" in execution.error
