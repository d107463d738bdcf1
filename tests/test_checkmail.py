"""``manage.py checkmail`` (seed 004's "Not valid server/mail/password"), the worker's
check at start, and mail that still goes out once the server is back — against a real
SMTP server that wants a login (aiosmtpd with AUTH)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scripts_app.models import Trigger
from scripts_app.runs import dispatch, mailcheck, notify
from scripts_app.worker import execution
from scripts_app.worker.middleware import MailCheck
from tests.services import free_port


def checks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "scripts_app.runs.mailcheck"]


def test_it_says_the_login_works(smtp_auth_server, capsys):
    call_command("checkmail")
    out = capsys.readouterr().out
    assert (
        out.strip() == f"OK: logged in to 127.0.0.1:{smtp_auth_server.port} as 'mailer@example.com'"
    )


def test_a_wrong_password_is_named(smtp_auth_server, settings):
    settings.EMAIL_HOST_PASSWORD = "wrong"
    with pytest.raises(CommandError) as failed:
        call_command("checkmail")
    message = str(failed.value)
    assert message.startswith("Not valid mail/password: ")
    assert "refused the login of 'mailer@example.com'" in message and "535" in message


def test_a_server_that_does_not_answer_is_named(smtp_server, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    with pytest.raises(CommandError, match=r"^Not valid server: cannot use 127\.0\.0\.1:\d+"):
        call_command("checkmail")


def test_a_server_without_a_login_is_fine_when_none_is_configured(smtp_server, capsys):
    call_command("checkmail")
    assert "OK: connected to 127.0.0.1" in capsys.readouterr().out


def test_the_worker_logs_the_check_once_at_start_and_goes_on(smtp_auth_server, settings, caplog):
    settings.EMAIL_HOST_PASSWORD = "wrong"
    assert "scripts_app.worker.middleware.MailCheck" in settings.DRAMATIQ_BROKER["MIDDLEWARE"]
    with caplog.at_level(logging.INFO, logger="scripts_app.runs.mailcheck"):
        MailCheck().after_worker_boot(broker=None, worker=None)
        deadline = time.monotonic() + 10
        while not checks(caplog) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a second line would have come by now
    [record] = checks(caplog)
    assert record.levelname == "WARNING"
    assert "Not valid mail/password" in record.getMessage()
    assert "runs go on" in record.getMessage()


def test_the_worker_checks_nothing_when_mail_is_not_configured(settings, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_HOST_USER, settings.ADMINS = "localhost", "", []
    assert mailcheck.configured() is False
    with caplog.at_level(logging.INFO, logger="scripts_app.runs.mailcheck"):
        MailCheck().after_worker_boot(broker=None, worker=None)
        time.sleep(0.2)
    assert checks(caplog) == []


def test_runs_go_on_while_the_login_fails_and_mail_goes_out_once_it_works(
    make_job, smtp_auth_server, settings
):
    settings.EMAIL_HOST_PASSWORD = "wrong"
    job = make_job("def main(data):\n    return {'ok': True}\n", slug="mailed")
    run = dispatch.trigger(job, trigger=Trigger.CLI, send=False, email="boss@example.com")
    run = execution.execute(run.pk)
    assert run.status == "succeeded"
    assert smtp_auth_server.messages == []
    settings.EMAIL_HOST_PASSWORD = "right-password"  # the server/login is fixed
    assert notify.retry_pending(run.finished_at + timedelta(hours=1)) == 1
    assert smtp_auth_server.envelopes == [("parseq@localhost", ["boss@example.com"])]
