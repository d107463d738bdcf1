"""Seed 003 (Scripts Manager): ``POST /api/v1/scripts/<path>`` runs the .py file at that path
under the scripts directory and answers synchronously; its curl examples, byte for byte
(with the token header Parseq requires), are the requests here."""

from __future__ import annotations

import os
import textwrap

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scripts_app.models import Execution, Job, Status, Trigger

ARGS = "test/test_args_in_request_args_in_response.py"
FILES = "test/test_file_in_request_file_in_response.py"


@pytest.fixture
def curl(alice) -> APIClient:
    """A client that sends what the seed's curl lines send, plus the token header."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    return client


@pytest.fixture
def scripts_dir(settings, tmp_path):
    """A scripts directory of the test's own: ``write(name, source)`` adds a script."""
    settings.PARSEQ_SCRIPTS_DIR = tmp_path / "scripts"
    settings.PARSEQ_SCRIPTS_DIR.mkdir()

    def write(name: str, source: str):
        path = settings.PARSEQ_SCRIPTS_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    return write


def run_script(client, path: str, body: str):
    return client.post(f"/api/v1/scripts/{path}", body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "result"),
    [
        (
            '{"data": {"name": "John", "value": 42}}',
            {"message": "Hello, John!", "processed_value": 84},
        ),
        (
            '{"data": {"name": "World", "value": 42}}',
            {"message": "Hello, World!", "processed_value": 84},
        ),
        (
            '{"data": {"name": "Test", "value": 123}}',
            {"message": "Hello, Test!", "processed_value": 246},
        ),
    ],
)
def test_the_seeds_curl_examples_answer_as_the_seed_says(worker, curl, body, result):
    response = run_script(curl, ARGS, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert list(answer) == ["success", "result", "execution_time"]
    assert answer["success"] is True and answer["result"] == result
    assert isinstance(answer["execution_time"], float) and answer["execution_time"] >= 0
    run = Execution.objects.get(pk=response["X-Parseq-Execution"])
    assert (run.status, run.trigger, run.result) == (Status.SUCCEEDED, Trigger.API, result)


def test_each_call_is_an_execution_of_one_job_for_that_path_made_on_first_use(
    worker, curl, alice, client
):
    for name in ("Ann", "Bo"):
        run_script(curl, ARGS, '{"data": {"name": "' + name + '"}}')
    job = Job.objects.get(script_path=ARGS)
    assert job.slug == "test-test_args_in_request_args_in_response"
    assert job.executions.count() == 2
    client.force_login(alice)
    page = client.get("/admin/scripts_app/job/").content.decode()
    assert "test-test_args_in_request_args_in_response" in page


def test_a_job_that_already_runs_the_path_is_used(worker, curl, make_job):
    job = Job.objects.create(name="Mine", slug="mine", script_path=ARGS, timeout=60)
    run_script(curl, ARGS, '{"data": {}}')
    assert Job.objects.filter(script_path=ARGS).count() == 1
    assert job.executions.count() == 1


def test_a_failing_script_answers_success_false_with_the_error(worker, curl, scripts_dir):
    scripts_dir("broken.py", "def main(data):\n    return data['missing']\n")
    response = run_script(curl, "broken.py", '{"data": {}}')
    assert response.status_code == 200
    answer = response.json()
    assert list(answer) == ["success", "error", "execution_time"]
    assert answer["success"] is False and answer["error"] == "KeyError: 'missing'"


def test_a_made_job_times_out_at_max_script_execution_time(worker, curl, scripts_dir, settings):
    settings.MAX_SCRIPT_EXECUTION_TIME = 1
    scripts_dir("slow.py", "import time\ndef main(data):\n    time.sleep(30)\n")
    response = run_script(curl, "slow.py", "{}")
    assert response.status_code == 200
    answer = response.json()
    assert answer["success"] is False
    assert answer["error"] in (
        "timed out after 1 s",  # the worker's timeout (the made job's is the cap)
        f"the script did not finish within 1 s (MAX_SCRIPT_EXECUTION_TIME): run #"
        f"{response['X-Parseq-Execution']} was cancelled",  # or the wait's, a moment before
    )
    assert Job.objects.get(script_path="slow.py").timeout == 1


def test_the_wait_is_capped_and_the_run_cancelled_whatever_the_jobs_timeout(
    worker, curl, scripts_dir, settings
):
    settings.MAX_SCRIPT_EXECUTION_TIME = 1
    scripts_dir("slow.py", "import time\ndef main(data):\n    time.sleep(30)\n")
    Job.objects.create(name="Slow", slug="slow", script_path="slow.py", timeout=600)
    response = run_script(curl, "slow.py", "{}")
    answer = response.json()
    run_id = response["X-Parseq-Execution"]
    assert answer == {
        "success": False,
        "error": f"the script did not finish within 1 s (MAX_SCRIPT_EXECUTION_TIME): run #"
        f"{run_id} was cancelled",
        "execution_time": answer["execution_time"],
    }
    assert 1 <= answer["execution_time"] < 10
    assert Execution.objects.get(pk=run_id).cancel_requested_at is not None


def test_main_returning_none_answers_an_empty_object(worker, curl, scripts_dir):
    scripts_dir("quiet.py", "def main(data):\n    pass\n")
    assert run_script(curl, "quiet.py", '{"data": {}}').json()["result"] == {}


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("../manage.py", 400, "must not contain '..'"),
        ("test/../../manage.py", 400, "must not contain '..'"),
        ("/etc/passwd.py", 400, "relative to the scripts directory"),
        ("demo_jobs.json", 400, "must name a .py file"),
        ("outside.py", 400, "leaves the scripts directory"),  # a symlink out
        ("nope.py", 404, "No script at nope.py"),
        ("test/nope.py", 404, "No script at test/nope.py"),
    ],
)
def test_bad_paths_are_refused_with_a_message(curl, settings, tmp_path, path, status, says):
    base = tmp_path / "scripts"
    (base / "test").mkdir(parents=True)
    (base / "demo_jobs.json").write_text("{}")
    (tmp_path / "elsewhere.py").write_text("def main(data):\n    return {}\n")
    os.symlink(tmp_path / "elsewhere.py", base / "outside.py")
    settings.PARSEQ_SCRIPTS_DIR = base
    response = run_script(curl, path, "{}")  # "/etc/passwd.py": …/scripts//etc/passwd.py
    assert response.status_code == status, response.content
    assert says in response.json()["detail"]
    assert not Execution.objects.exists() and not Job.objects.exists()


def test_it_needs_credentials(anon):
    assert run_script(anon, ARGS, "{}").status_code == 401


def test_upload_prefix_then_a_script_reads_the_file_key_and_hands_a_file_back(worker, curl):
    upload = curl.post(
        "/api/v1/files/upload?prefix=test",
        {"file": SimpleUploadedFile("data.txt", b"one two\nthree\n")},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    key = upload.json()["key"]
    assert key.startswith("test/") and key.endswith(".txt") and upload.json()["size"] == 14
    response = run_script(curl, FILES, '{"data": {"file_key": "' + key + '"}}')
    answer = response.json()
    assert answer["success"] is True, answer
    assert answer["result"]["message"] == f"Processing file: {key}"
    result_key = answer["result"]["file_key"]
    assert curl.get(f"/api/v1/files/{result_key}").getvalue() == b"2 lines, 3 words\n"


def test_a_file_key_that_was_never_uploaded_is_400(curl):
    response = run_script(curl, FILES, '{"data": {"file_key": "test/aBc123XyZ456.txt"}}')
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "$.file_key", "message": "no file has the key “test/aBc123XyZ456.txt”"}
    ]


def test_upload_at_the_seeds_path_answers_like_the_files_endpoint(curl):
    seed = curl.post(
        "/api/v1/files/upload?prefix=test", {"file": SimpleUploadedFile("a.csv", b"x")}
    )
    ours = curl.post("/api/v1/files/?prefix=test", {"file": SimpleUploadedFile("b.csv", b"x")})
    assert seed.status_code == ours.status_code == 201
    assert set(seed.json()) == set(ours.json()) == {"key", "size"}
    bad = curl.post("/api/v1/files/upload?prefix=../x", {"file": SimpleUploadedFile("a.csv", b"x")})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("path", "target"),
    [("/docs", "/api/v1/docs/"), ("/docs/", "/api/v1/docs/"), ("/redoc", "/api/v1/redoc/")],
)
def test_the_seeds_docs_addresses_lead_to_the_api_docs(anon, path, target):
    response = anon.get(path)
    assert response.status_code == 302 and response["Location"] == target
    assert anon.get(target).status_code == 200
