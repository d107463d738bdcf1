"""gunicorn's settings for Parseq (``gunicorn -c python:parseq.gunicorn …``): gunicorn's own
lines in the same format as Django's (JSON with PARSEQ_LOG_FORMAT=json). Access lines come
from django-structlog (``request_finished``, with the request id), so there is no access log."""

import os

from scripts_app.observability.logs import logging_config

logconfig_dict = logging_config(
    os.environ.get("PARSEQ_LOG_FORMAT") or "console",
    os.environ.get("LOG_LEVEL") or "INFO",
    gunicorn=True,
)

# Above PARSEQ_ENV_LOCK_TIMEOUT (60 s): saving a script that declares dependencies waits
# for uv to lock it (scripts_app/environments/locking.py).
timeout = 120
