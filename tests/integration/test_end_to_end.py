"""A job uploaded over HTTP runs on a separate worker; its files land in S3 and download intact."""

from __future__ import annotations

import pytest
import requests

from tests.integration.stack import BIN, Api, Service, unique_slug, wait_until
from tests.services import free_port

pytestmark = pytest.mark.slow

REPORT_SCRIPT = """
import os

def main(data):
    payload = bytes(range(256)) * int(data.get("kib", 4)) * 4
    with open(os.path.join(os.environ["PARSEQ_OUTPUT_DIR"], "report.bin"), "wb") as fh:
        fh.write(payload)
    print("wrote", len(payload), "bytes")
    return {"size": len(payload)}
"""


def expected_payload(kib: int) -> bytes:
    return bytes(range(256)) * kib * 4


def test_a_job_uploaded_over_http_runs_and_its_artifact_downloads_intact(stack, api):
    slug = unique_slug("report")
    api.create_job(slug, REPORT_SCRIPT)
    started = api.trigger(slug, {"kib": 8})
    assert started["status"] == "queued"

    run = api.wait_final(started["id"], timeout=60)

    assert run["status"] == "succeeded", run
    assert run["result"] == {"size": 8192}
    download = api.get(f"/api/v1/executions/{run['id']}/artifacts/report.bin")
    assert download.status_code == 200
    assert download.content == expected_payload(8)
    log = api.get(f"/api/v1/executions/{run['id']}/log/", headers={"Accept": "text/plain"})
    assert "wrote 8192 bytes" in log.text


def test_script_log_and_artifact_objects_are_in_the_bucket(stack, api):
    slug = unique_slug("stored")
    api.create_job(slug, REPORT_SCRIPT)
    run = api.wait_final(api.trigger(slug, {"kib": 1})["id"], timeout=60)
    assert run["status"] == "succeeded", run

    keys = stack.s3.keys()
    assert any(key.startswith(f"scripts/{slug}/") for key in keys), keys
    log_keys = [k for k in keys if k.startswith(f"executions/{run['id']}/log")]
    artifact_keys = [k for k in keys if k.startswith(f"executions/{run['id']}/artifacts/report")]
    assert log_keys and artifact_keys, keys
    assert stack.s3.read(artifact_keys[0]) == expected_payload(1)
    assert b"wrote 1024 bytes" in stack.s3.read(log_keys[0])


def test_an_s3_artifact_download_redirects_to_a_short_lived_presigned_url(stack, api):
    slug = unique_slug("presigned")
    api.create_job(slug, REPORT_SCRIPT)
    run = api.wait_final(api.trigger(slug, {"kib": 2})["id"], timeout=60)

    answer = api.get(f"/api/v1/executions/{run['id']}/artifacts/report.bin", allow_redirects=False)

    assert answer.status_code in (302, 307), answer.status_code
    location = answer.headers["Location"]
    assert location.startswith(f"{stack.s3.endpoint}/{stack.s3.bucket}/executions/")
    assert "X-Amz-Expires=" in location or "Expires=" in location
    assert requests.get(location, timeout=10).content == expected_payload(2)


def test_with_redirects_off_an_s3_artifact_streams_through_django(stack, api):
    slug = unique_slug("streamed")
    api.create_job(slug, REPORT_SCRIPT)
    run = api.wait_final(api.trigger(slug, {"kib": 64})["id"], timeout=60)
    port = free_port()
    web = Service(
        "web-streaming",
        [str(BIN / "gunicorn"), "parseq.wsgi:application", "--bind", f"127.0.0.1:{port}"],
        {**stack.env, "PARSEQ_DOWNLOAD_REDIRECT": "0"},
        stack.base,
    ).start()
    try:
        streaming = Api(f"http://127.0.0.1:{port}", api.token)

        def answered():
            try:
                return streaming.get("/admin/login/").status_code == 200
            except requests.RequestException:
                return False

        wait_until(answered, 60, "the second web server")
        path = f"/api/v1/executions/{run['id']}/artifacts/report.bin"
        whole = streaming.get(path, allow_redirects=False)
        part = streaming.get(path, headers={"Range": "bytes=256-511"}, allow_redirects=False)
    finally:
        web.stop()

    assert whole.status_code == 200
    assert whole.content == expected_payload(64)
    assert part.status_code == 206
    assert part.content == expected_payload(64)[256:512]
