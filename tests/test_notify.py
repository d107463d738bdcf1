"""E-mail when a run ends, against a real SMTP server (aiosmtpd): per-job choice,
content, attachments, sent once, retried while the server is down."""

from datetime import timedelta

import pytest

from scripts_app.jobs import secrets
from scripts_app.models import Execution, NotifyOn, Status, Trigger
from scripts_app.runs import dispatch, notify
from scripts_app.worker import execution

OK = "def main(data):\n    return {'rows': 3}\n"
FAIL = "def main(data):\n    raise RuntimeError('source unreachable')\n"


def run_now(job):
    return execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.PARSEQ_BASE_URL = "https://parseq.example.com"
    settings.ADMINS = [("Ops", "ops@example.com")]


@pytest.mark.parametrize(
    ("notify_on", "source"),
    [
        (NotifyOn.NEVER, FAIL),
        (NotifyOn.NEVER, OK),
        (NotifyOn.FAILURE, OK),
        (NotifyOn.SUCCESS, FAIL),
    ],
)
def test_no_mail_when_the_job_does_not_ask_for_it(make_job, smtp_server, notify_on, source):
    run = run_now(make_job(source, notify_on=notify_on))
    assert smtp_server.messages == []
    assert run.notify_attempts == 0


def test_no_mail_for_a_skipped_run_even_with_always():
    assert notify.wants(NotifyOn.ALWAYS, Status.SKIPPED) is False


def test_a_failure_mail_names_job_status_duration_error_and_link(make_job, smtp_server):
    job = make_job(FAIL, slug="fetch", notify_on=NotifyOn.FAILURE, notify_emails="a@x.org, b@x.org")
    run = run_now(job)
    assert run.status == Status.FAILED
    [message] = smtp_server.messages
    assert message["Subject"] == f"[Parseq] Fetch: run #{run.pk} failed"
    assert sorted(smtp_server.envelopes[0][1]) == ["a@x.org", "b@x.org"]
    body = message.get_body(("plain",)).get_content()
    assert "Job: Fetch (fetch)" in body
    assert "Status: Failed" in body
    assert "Duration: " in body and " s" in body
    assert "RuntimeError: source unreachable" in body
    assert "https://parseq.example.com/" in body and str(run.pk) in body
    run.refresh_from_db()
    assert run.notified_at is not None and run.notify_attempts == 1


def test_recipients_default_to_admins(make_job, smtp_server):
    run_now(make_job(OK, notify_on=NotifyOn.SUCCESS))
    assert smtp_server.envelopes[0][1] == ["ops@example.com"]
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert '"rows": 3' in body


OUTPUTS = """
from scripts_app import runtime
def main(data):
    runtime.output_path("small.txt").write_text("tiny")
    runtime.output_path("big.bin").write_bytes(b"0" * 5000)
    return "done"
"""


def test_small_outputs_are_attached_and_large_ones_linked(make_job, smtp_server, settings):
    settings.PARSEQ_NOTIFY_ATTACH_BYTES = 100
    run = run_now(make_job(OUTPUTS, notify_on=NotifyOn.ALWAYS))
    [message] = smtp_server.messages
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached == {"small.txt": "tiny"}
    body = message.get_body(("plain",)).get_content()
    assert (
        f"big.bin (5,000 bytes): https://parseq.example.com/api/v1/executions/{run.pk}"
        "/artifacts/big.bin" in body
    )


def test_a_run_is_mailed_once(make_job, smtp_server):
    run = run_now(make_job(FAIL, notify_on=NotifyOn.ALWAYS))
    assert notify.notify(run) is False
    assert notify.retry_pending(run.finished_at + timedelta(hours=1)) == 0
    assert len(smtp_server.messages) == 1


def test_secrets_never_reach_the_mail(make_job, smtp_server):
    job = make_job(
        "import os\ndef main(data):\n    raise RuntimeError('bad key ' + os.environ['KEY'])\n",
        notify_on=NotifyOn.FAILURE,
    )
    secrets.set_secret(job, "KEY", "k-123-secret-456")
    run_now(job)
    raw = smtp_server.messages[0].as_string()
    assert "k-123-secret-456" not in raw
    assert "bad key ***" in raw


def test_a_mail_server_outage_is_retried_without_touching_the_run(make_job, smtp_server, settings):
    settings.PARSEQ_NOTIFY_RETRY_SECONDS = 60
    smtp_server.stop()
    run = run_now(make_job(FAIL, notify_on=NotifyOn.FAILURE))
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert (run.notified_at, run.notify_attempts) == (None, 1)

    assert notify.retry_pending(run.finished_at + timedelta(seconds=30)) == 0  # not yet due
    smtp_server.start()
    assert notify.retry_pending(run.finished_at + timedelta(seconds=61)) == 1
    run.refresh_from_db()
    assert run.notified_at is not None and run.notify_attempts == 2
    assert len(smtp_server.messages) == 1
    assert notify.retry_pending(run.finished_at + timedelta(hours=2)) == 0


def test_it_gives_up_after_the_last_attempt(make_job, smtp_server, settings):
    settings.PARSEQ_NOTIFY_MAX_ATTEMPTS = 2
    smtp_server.stop()
    run = run_now(make_job(FAIL, notify_on=NotifyOn.FAILURE))
    later = run.finished_at + timedelta(hours=1)
    assert notify.retry_pending(later) == 0
    assert notify.retry_pending(later) == 0
    run = Execution.objects.get(pk=run.pk)
    assert (run.notified_at, run.notify_attempts) == (None, 2)


def test_the_scheduler_tick_retries_pending_mail(make_job, smtp_server):
    from scripts_app.scheduling import loop

    smtp_server.stop()
    run = run_now(make_job(FAIL, notify_on=NotifyOn.FAILURE))
    smtp_server.start()
    result = loop.tick(run.finished_at + timedelta(hours=1))
    assert result["retry_notifications"] == 1
    assert len(smtp_server.messages) == 1


def test_the_final_status_is_written_before_the_mail_is_built(make_job, smtp_server, monkeypatch):
    seen = []
    build = notify.build_message

    def spy(execution):
        seen.append(Execution.objects.get(pk=execution.pk).status)
        return build(execution)

    monkeypatch.setattr(notify, "build_message", spy)
    run_now(make_job(FAIL, notify_on=NotifyOn.FAILURE))
    assert seen == [Status.FAILED]


def test_a_failed_attempt_that_will_be_retried_says_so(make_job, smtp_server):
    run = run_now(make_job(FAIL, notify_on=NotifyOn.FAILURE, max_retries=1, retry_backoff=60))
    retry = Execution.objects.get(retry_of=run)
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert f"Retry: attempt 2 is run #{retry.pk}, not before " in body
