"""Structured logs for every Parseq process (web, worker, scheduler), with structlog.

One ``logging`` configuration renders both structlog's events (django-structlog's
request lines) and plain ``logging`` records (Parseq, Django, Dramatiq, gunicorn): a
JSON object per line with ``PARSEQ_LOG_FORMAT=json``, a readable line with ``console``.
Context bound with ``structlog.contextvars`` — the request's ``request_id`` (bound by
django-structlog), a run's ``execution_id`` and ``job`` — lands on every line written
while it is bound, whichever logger writes it; ``extra={...}`` fields do too.

No Django import here: the settings and gunicorn's config call ``logging_config``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

FORMATS = ("console", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Chatty libraries: their INFO lines say nothing an operator needs.
QUIET = {"pika": "WARNING", "botocore": "WARNING", "urllib3": "WARNING"}


def _pre_chain() -> list:
    """What every line gets before it is rendered, whoever logged it."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(fmt: str) -> list:
    if fmt == "json":
        return [
            structlog.processors.format_exc_info,  # a traceback as one string field
            structlog.processors.UnicodeDecoder(),
            structlog.processors.JSONRenderer(default=str),
        ]
    return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]


def check(fmt: str, level: str) -> tuple[str, str]:
    """The format and level, or ValueError naming the variable that is wrong."""
    level = (level or "INFO").strip().upper()
    if fmt not in FORMATS:
        raise ValueError(f"PARSEQ_LOG_FORMAT={fmt!r} is not one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise ValueError(f"LOG_LEVEL={level!r} is not one of {', '.join(LEVELS)}")
    return fmt, level


def configure_structlog() -> None:
    """structlog's own loggers hand their events to ``logging`` (one output, one format);
    so do Python's warnings (logger ``py.warnings``), which would print plain text."""
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(fmt: str, level: str, *, gunicorn: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict (Django's LOGGING, gunicorn's logconfig_dict).

    ``gunicorn``: also route gunicorn's own loggers, which do not propagate to the root.
    """
    fmt, level = check(fmt, level)
    configure_structlog()
    loggers: dict[str, dict] = {name: {"level": quiet} for name, quiet in QUIET.items()}
    if gunicorn:
        for name in ("gunicorn.error", "gunicorn.access"):
            loggers[name] = {"handlers": ["console"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "parseq": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *_renderer(fmt),
                ],
                "foreign_pre_chain": _pre_chain(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "parseq"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }


def bind_run(execution) -> None:
    """From here on, this thread's lines are about this run (``execution_id``, ``job``,
    and the ``request_id`` of the request that triggered it, recorded with the run)."""
    fields = {"execution_id": execution.pk, "job": execution.job.slug}
    if execution.request_id:
        fields["request_id"] = execution.request_id
    structlog.contextvars.bind_contextvars(**fields)


def current_request_id() -> str:
    """The id of the request being served (bound by django-structlog), or ""."""
    return str(structlog.contextvars.get_contextvars().get("request_id") or "")[:64]


def run_fields(execution) -> dict[str, Any]:
    """``extra=`` for one line about a run, where binding would outlive the run."""
    return {"execution_id": execution.pk, "job": execution.job.slug}
