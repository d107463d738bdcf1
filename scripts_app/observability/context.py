"""A run's log context across processes, carried by its Dramatiq message.

The web process that records a run over HTTP has the request's ``request_id`` bound
(django-structlog); the message sent for the run carries it as a message option, and
the worker binds it again — with the run's ``execution_id`` — while it processes that
message. So ``grep <request_id>`` finds the trigger's request line and every worker
line of the run. (With the embedded broker of ``make run`` the worker is fed from the
database, not the web's messages: the run's row keeps the request id too —
``Execution.request_id`` — and ``logs.bind_run`` binds it when the run is claimed.)
"""

from __future__ import annotations

import structlog
from dramatiq.middleware import Middleware

REQUEST_ID = "parseq_request_id"


class RunLogContext(Middleware):
    """Sender side: put the current request id on the message. Worker side: bind the
    message's run and request id for the lines written while it is processed."""

    def before_enqueue(self, broker, message, delay):
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id and REQUEST_ID not in message.options:
            message.options[REQUEST_ID] = str(request_id)

    def before_process_message(self, broker, message):
        structlog.contextvars.clear_contextvars()  # nothing left over from the last message
        fields = {}
        if message.actor_name == "run_execution" and message.args:
            fields["execution_id"] = message.args[0]
        if message.options.get(REQUEST_ID):
            fields["request_id"] = message.options[REQUEST_ID]
        structlog.contextvars.bind_contextvars(**fields)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker, message):
        structlog.contextvars.clear_contextvars()
