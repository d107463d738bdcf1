"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

The ``smtp_server`` fixture also points Django's SMTP backend at it. ``stop()``
and ``start()`` simulate a mail server outage on the same port.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.services import free_port


class _Collect:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.server.messages.append(message)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class _Accounts:
    """aiosmtpd authenticator: one login and password (AUTH PLAIN / LOGIN)."""

    def __init__(self, login: str, password: str):
        self.login, self.password = login.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        good = (auth_data.login, auth_data.password) == (self.login, self.password)
        return AuthResult(success=good, handled=False)


class SmtpServer:
    def __init__(self, port: int, login: tuple[str, str] | None = None):
        self.host = "127.0.0.1"
        self.port = port
        self.login = login
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller: Controller | None = None

    def start(self) -> None:
        auth = {}
        if self.login:  # a server that wants a login first, as seed 004's Yandex mail does
            auth = {
                "authenticator": _Accounts(*self.login),
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(_Collect(self), hostname=self.host, port=self.port, **auth)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _serve(settings, server: SmtpServer):
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = server.login or ("", "")
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


@pytest.fixture
def smtp_server(settings):
    yield from _serve(settings, SmtpServer(free_port()))


@pytest.fixture
def smtp_auth_server(settings):
    """A server that takes mail only after AUTH with mailer@example.com / right-password;
    Django's settings hold that login."""
    yield from _serve(settings, SmtpServer(free_port(), ("mailer@example.com", "right-password")))
