"""Does the mail server work? Connects to the SMTP server, and logs in when a login is
configured (``EMAIL_HOST_USER`` and ``EMAIL_HOST_PASSWORD``), as seed 004's HardWorker
did at start ("Not valid server/mail/password"). Used by ``manage.py checkmail`` and,
once, by every worker process at start (``worker.middleware.MailCheck``): a bad answer
is logged and runs go on — their mail is retried until the server is back.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass(frozen=True)
class MailCheck:
    ok: bool
    message: str


def server() -> str:
    return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


def configured() -> bool:
    """Whether run e-mail is set up here: the SMTP backend with a server other than the
    default localhost, a login, or admins to mail."""
    if settings.EMAIL_BACKEND != SMTP_BACKEND:
        return False
    return bool(settings.EMAIL_HOST != "localhost" or settings.EMAIL_HOST_USER or settings.ADMINS)


def check() -> MailCheck:
    """Connect (TLS as configured) and log in; what worked or what did not, in words."""
    if settings.EMAIL_BACKEND != SMTP_BACKEND:
        return MailCheck(
            True, f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: no SMTP server to check"
        )
    user = settings.EMAIL_HOST_USER
    connection = get_connection(SMTP_BACKEND, fail_silently=False)
    try:
        connection.open()
    except smtplib.SMTPAuthenticationError as exc:
        return MailCheck(
            False,
            f"Not valid mail/password: {server()} refused the login of {user!r} ({_said(exc)})",
        )
    except smtplib.SMTPNotSupportedError:
        return MailCheck(False, f"Not valid server: {server()} offers no login (AUTH) for {user!r}")
    except (smtplib.SMTPException, OSError) as exc:
        return MailCheck(
            False, f"Not valid server: cannot use {server()} ({type(exc).__name__}: {exc})"
        )
    finally:
        connection.close()
    if user and settings.EMAIL_HOST_PASSWORD:
        return MailCheck(True, f"OK: logged in to {server()} as {user!r}")
    return MailCheck(
        True, f"OK: connected to {server()} (no login: EMAIL_HOST_USER/PASSWORD unset)"
    )


def _said(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else exc.smtp_error
    )
    return f"{exc.smtp_code} {text}".strip()


def log_check() -> MailCheck:
    """``check()`` into the log: a warning when the server, login or password is wrong."""
    result = check()
    if result.ok:
        logger.info("mail server check: %s", result.message)
    else:
        logger.warning(
            "mail server check: %s; runs go on, and their e-mail is retried until it works",
            result.message,
        )
    return result
