"""An operator's whole journey through the admin, in headless Chromium against a live
server and a real in-process worker: log in, upload a job, schedule it, run it with
parameters, watch it finish, download its output, then start a long run and cancel it."""

from __future__ import annotations

import json
import textwrap

import pytest
from django.urls import reverse

from scripts_app.models import Execution, Job, Status

pytestmark = [pytest.mark.slow]

SCRIPT = textwrap.dedent(
    """
    import time

    from scripts_app import runtime


    def main(data):
        print(f"hello {data['name']}", flush=True)
        if data.get("sleep"):
            print("napping", flush=True)
            time.sleep(data["sleep"])
        rows = "".join(f"{i},{data['name']}\\n" for i in range(data["count"]))
        (runtime.output_dir() / "report.csv").write_text(rows)
        return {"greeting": f"Hello, {data['name']}!", "count": data["count"]}
    """
).encode()

SCHEMA = {
    "type": "object",
    "required": ["name", "count"],
    "properties": {
        "name": {"type": "string", "description": "Who to greet."},
        "count": {"type": "integer", "minimum": 1, "maximum": 100},
        "sleep": {"type": "number", "minimum": 0, "default": 0},
    },
}
FINAL_WAIT_MS = 40_000


def status_is(page, status: str) -> None:
    page.wait_for_selector(f'#parseq-status [data-status="{status}"]', timeout=FINAL_WAIT_MS)


def test_an_operator_uploads_schedules_runs_downloads_and_cancels(
    browser_page, live_server, worker, alice
):
    page = browser_page
    base = live_server.url

    # Log in.
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    # Create a job by uploading a script, with a params schema and a cron schedule.
    page.goto(f"{base}{reverse('admin:scripts_app_job_add')}")
    page.locator("#id_name").press_sequentially("Greeter")
    assert page.input_value("#id_slug") == "greeter"  # filled in from the name
    page.set_input_files(
        "#id_script", files=[{"name": "greeter.py", "mimeType": "text/x-python", "buffer": SCRIPT}]
    )
    page.fill("#id_params_schema", json.dumps(SCHEMA))
    page.fill("#id_cron", "15 3 * * 1-5")
    page.fill("#id_timezone", "Europe/Berlin")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    # The job page tells the schedule in words and its next five fire times.
    fire_times = page.locator(".parseq-fire-times li")
    assert fire_times.count() == 5
    assert "03:15" in fire_times.first.inner_text()
    assert "Europe/Berlin" in page.locator(".field-schedule_summary").inner_text()
    job = Job.objects.get(slug="greeter")
    assert job.versions.count() == 1

    # Run it with parameters typed into the form generated from the schema.
    page.click("#parseq-run-now")
    page.fill("#id_name", "World")
    page.fill("#id_count", "3")
    page.fill("#id_sleep", "1.5")
    page.click("#run-submit")
    page.wait_for_selector("#parseq-log")
    assert page.get_attribute("#parseq-log", "data-final") == "false"
    page.evaluate("window.parseqSamePage = true")

    # The status turns to succeeded by itself: the page is never reloaded.
    status_is(page, "succeeded")
    assert page.evaluate("window.parseqSamePage") is True
    assert "hello World" in page.inner_text("#parseq-log")
    assert "Hello, World!" in page.inner_text("#parseq-result")

    # Download the artifact the run produced and compare its bytes.
    with page.expect_download() as download_info:
        page.click("a.parseq-download")
    download = download_info.value
    assert download.suggested_filename == "report.csv"
    with open(download.path(), "rb") as handle:
        assert handle.read() == b"0,World\n1,World\n2,World\n"

    # Start a long run and cancel it while it is going.
    page.goto(f"{base}{reverse('admin:scripts_app_job_run', args=[job.pk])}")
    page.fill("#id_name", "Sleepy")
    page.fill("#id_count", "1")
    page.fill("#id_sleep", "60")
    page.click("#run-submit")
    page.wait_for_selector("#parseq-log")
    page.wait_for_function(
        "document.getElementById('parseq-log').textContent.includes('napping')",
        timeout=FINAL_WAIT_MS,
    )
    page.click("#parseq-cancel")
    page.wait_for_selector(".messagelist .success")
    status_is(page, "cancelled")
    long_run = Execution.objects.filter(job=job).order_by("-id").first()
    assert long_run.status == Status.CANCELLED
    assert long_run.params["sleep"] == 60
    assert long_run.duration.total_seconds() < 30
