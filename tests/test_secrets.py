"""Per-job secrets: encrypted at rest, write-only, given to the script as env vars,
and masked as *** in the log, result and error of the run."""

import time

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import default_storage

from scripts_app.jobs import secrets
from scripts_app.models import Execution, JobSecret, LogChunk, Status, Trigger
from scripts_app.runs import dispatch
from scripts_app.worker import execution

TOKEN = "tok-8f2e9c1d-very-secret"

LEAKY = """
import os, sys
def main(data):
    token = os.environ["API_TOKEN"]
    print("using", token, flush=True)
    sys.stdout.write(token[:4]); sys.stdout.flush()
    sys.stdout.write(token[4:] + "\\n")
    if data.get("fail"):
        raise RuntimeError("rejected " + token)
    return {"echo": token, token: [token + "!"]}
"""


def run_now(job, **params):
    return execution.execute(
        dispatch.trigger(job, params=params, trigger=Trigger.CLI, send=False).pk
    )


def test_it_refuses_a_malformed_or_reserved_name(make_job):
    job = make_job()
    for name in ["1ABC", "WITH SPACE", "PATH", "PARSEQ_RUN_ID"]:
        with pytest.raises(ValidationError):
            secrets.set_secret(job, name, "x")
    assert not JobSecret.objects.exists()


def test_it_refuses_an_empty_value(make_job):
    with pytest.raises(ValidationError):
        secrets.set_secret(make_job(), "API_TOKEN", "")


def test_a_bad_secrets_key_fails_loudly(make_job, settings):
    settings.PARSEQ_SECRETS_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured, match="PARSEQ_SECRETS_KEY"):
        secrets.set_secret(make_job(), "API_TOKEN", TOKEN)


def test_a_secret_is_stored_encrypted_and_only_its_name_is_readable(make_job):
    job = make_job()
    stored = secrets.set_secret(job, "API_TOKEN", TOKEN)
    secrets.set_secret(job, "OTHER", "x")
    assert TOKEN not in stored.ciphertext
    assert secrets.decrypt(JobSecret.objects.get(pk=stored.pk).ciphertext) == TOKEN
    assert secrets.secret_names(job) == ["API_TOKEN", "OTHER"]


def test_setting_a_secret_again_replaces_it_and_delete_removes_it(make_job):
    job = make_job()
    secrets.set_secret(job, "API_TOKEN", "old")
    secrets.set_secret(job, "API_TOKEN", "new")
    assert secrets.secret_env(job) == {"API_TOKEN": "new"}
    assert secrets.delete_secret(job, "API_TOKEN") is True
    assert secrets.delete_secret(job, "API_TOKEN") is False
    assert secrets.secret_names(job) == []


def test_an_old_key_still_decrypts_after_rotation(make_job, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PARSEQ_SECRETS_KEY = old
    job = make_job()
    secrets.set_secret(job, "API_TOKEN", TOKEN)
    settings.PARSEQ_SECRETS_KEY = f"{new},{old}"
    assert secrets.secret_env(job) == {"API_TOKEN": TOKEN}


def test_a_secret_saved_under_another_key_fails_the_run_saying_why(make_job, settings):
    job = make_job(LEAKY)
    secrets.set_secret(job, "API_TOKEN", TOKEN)
    settings.SECRET_KEY = "a-different-secret-key"
    run = run_now(job)
    assert run.status == Status.FAILED
    assert "API_TOKEN cannot be decrypted" in run.error


def test_the_script_gets_its_secret_and_it_is_masked_everywhere(make_job):
    job = make_job(LEAKY)
    secrets.set_secret(job, "API_TOKEN", TOKEN)
    run = run_now(job)
    assert run.status == Status.SUCCEEDED
    assert run.result == {"echo": "***", "***": ["***!"]}
    with default_storage.open(run.log.name) as handle:
        log = handle.read()
    assert TOKEN.encode() not in log
    assert log.count(b"***") == 2


def test_a_secret_in_the_error_message_is_masked(make_job):
    job = make_job(LEAKY)
    secrets.set_secret(job, "API_TOKEN", TOKEN)
    run = run_now(job, fail=True)
    assert run.status == Status.FAILED
    assert run.error == "RuntimeError: rejected ***"


SPLIT = """
import os, sys, time
token = os.environ["API_TOKEN"]
print("start", flush=True)
sys.stdout.write(token[:6]); sys.stdout.flush()
time.sleep(1.5)
sys.stdout.write(token[6:] + " end\\n"); sys.stdout.flush()
time.sleep(1.5)
"""


def test_the_live_log_of_a_running_job_never_shows_the_secret(make_job, worker):
    job = make_job(SPLIT)
    secrets.set_secret(job, "API_TOKEN", TOKEN)
    run = dispatch.trigger(job, trigger=Trigger.API)
    live = b""
    deadline = time.monotonic() + 20
    while not Execution.objects.get(pk=run.pk).is_final:
        assert time.monotonic() < deadline
        chunks = LogChunk.objects.filter(execution_id=run.pk).order_by("offset")
        live = max(live, b"".join(bytes(c.data) for c in chunks), key=len)
        time.sleep(0.1)
    assert b"start" in live
    assert TOKEN[:6].encode() not in live
    run.refresh_from_db()
    with default_storage.open(run.log.name) as handle:
        assert handle.read() == b"start\n*** end\n"
