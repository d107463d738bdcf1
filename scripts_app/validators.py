"""One set of validators, reused by the models, the admin forms, the API and the CLI.

Each raises ``ValidationError`` with a message a person can act on.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
QUEUE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# Variables the runner sets itself; a job may not override them.
RESERVED_ENV = {"PATH", "HOME", "PYTHONPATH", "LANG", "LC_ALL", "TMPDIR"}
RESERVED_ENV_PREFIX = "PARSEQ_"


def validate_job_slug(value: str) -> None:
    # ``manage.py <slug>`` runs the job, so a slug must not hide a built-in command.
    from django.core.management import get_commands

    if value in get_commands():
        raise ValidationError(
            f"“{value}” is a manage.py command name; choose another slug.", code="reserved"
        )


def validate_script_source(source: bytes, name: str = "script") -> None:
    """Refuse oversized, non-UTF-8 or syntactically invalid Python."""
    limit = settings.PARSEQ_MAX_SCRIPT_BYTES
    if len(source) > limit:
        raise ValidationError(
            f"{name} is {len(source):,} bytes; the limit is {limit:,} bytes.", code="too_large"
        )
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{name} is not UTF-8 text.", code="encoding") from None
    try:
        ast.parse(text, filename=name)
    except SyntaxError as exc:
        raise ValidationError(
            f"{name} has a syntax error on line {exc.lineno}: {exc.msg}", code="syntax"
        ) from None


def validate_script_upload(file: Any) -> None:
    name = getattr(file, "name", "") or ""
    if not name.lower().endswith(".py"):
        raise ValidationError(f"“{PurePosixPath(name).name}” is not a .py file.", code="extension")
    size = getattr(file, "size", None)
    if size is not None and size > settings.PARSEQ_MAX_SCRIPT_BYTES:
        raise ValidationError(
            f"{PurePosixPath(name).name} is {size:,} bytes; the limit is "
            f"{settings.PARSEQ_MAX_SCRIPT_BYTES:,} bytes.",
            code="too_large",
        )
    if getattr(file, "_committed", False):  # already stored and validated earlier
        return
    file.seek(0)
    data = file.read(settings.PARSEQ_MAX_SCRIPT_BYTES + 1)
    file.seek(0)
    validate_script_source(data, PurePosixPath(name).name)


def resolve_script_path(value: str) -> Path:
    """The absolute path of a script under the scripts directory (PARSEQ_SCRIPTS_DIR,
    default parsers/), refusing absolute paths, '..', symlinks out, non-.py and missing
    files (code "missing" for the last, so callers can answer 404)."""
    base = Path(settings.PARSEQ_SCRIPTS_DIR).resolve()
    if not value or PurePosixPath(value).is_absolute() or "\\" in value:
        raise ValidationError(
            f"Give a path relative to the scripts directory, not {value!r}.", code="path"
        )
    if ".." in PurePosixPath(value).parts:
        raise ValidationError("The script path must not contain '..'.", code="path")
    path = (base / value).resolve()
    if base not in path.parents:
        raise ValidationError("The script path leaves the scripts directory.", code="path")
    if path.suffix != ".py":
        raise ValidationError("The script path must name a .py file.", code="extension")
    if not path.is_file():
        raise ValidationError(f"No script at {value} in the scripts directory.", code="missing")
    return path


def validate_script_path(value: str) -> None:
    if value:
        validate_script_source(resolve_script_path(value).read_bytes(), value)


def validate_params_schema(value: Any) -> None:
    if value in (None, {}):
        return
    if not isinstance(value, dict):
        raise ValidationError("The params schema must be a JSON object.", code="schema")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        raise ValidationError(f"Invalid JSON Schema: {exc.message}", code="schema") from None


def params_errors(params: Any, schema: dict | None) -> list[dict[str, str]]:
    """Every way ``params`` breaks the job's schema, as ``{"path", "message"}`` items."""
    if not isinstance(params, dict):
        return [{"path": "$", "message": "params must be a JSON object"}]
    if not schema:
        return []
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    return [{"path": error.json_path, "message": error.message} for error in errors]


def validate_env_name(value: str) -> None:
    if not ENV_NAME_RE.match(value):
        raise ValidationError(
            f"“{value}” is not a valid environment variable name.", code="env_name"
        )
    if value.upper() in RESERVED_ENV or value.upper().startswith(RESERVED_ENV_PREFIX):
        raise ValidationError(f"“{value}” is reserved by Parseq.", code="env_reserved")


def validate_env_mapping(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("env must be a JSON object of NAME: value.", code="env")
    for key, item in value.items():
        validate_env_name(key)
        if not isinstance(item, str):
            raise ValidationError(f"env value for {key} must be a string.", code="env")


def email_list(value: Any) -> list[str]:
    """Recipients given as ``"a@b.c"``, ``"a@b.c, d@e.f"`` or a list of those; each one
    checked. ValidationError names the first that is not an e-mail address."""
    from django.core.validators import validate_email

    if value in (None, "", []):
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValidationError('Give e-mail addresses as "a@b.c" or a list of them.', code="email")
    addresses = [a.strip() for item in items for a in item.replace(";", ",").split(",")]
    for address in filter(None, addresses):
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"“{address}” is not an e-mail address.", code="email") from None
    return list(dict.fromkeys(filter(None, addresses)))


def validate_queue_name(value: str) -> None:
    if not QUEUE_RE.match(value):
        raise ValidationError(
            "A queue name uses letters, digits, '.', '_' and '-' only.", code="queue"
        )


def validate_cron(value: str) -> None:
    if not value:
        return
    # The scheduler's own parser decides, so whatever validates also schedules.
    from scripts_app.schedule import CronError, parse_cron

    try:
        parse_cron(value)
    except CronError as exc:
        raise ValidationError(
            f"“{value}” is not a valid cron expression: {exc}.", code="cron"
        ) from None


def validate_timezone(value: str) -> None:
    if not value:
        return
    if value not in available_timezones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"“{value}” is not an IANA time zone.", code="timezone") from None


def validate_job_source(job: Any) -> None:
    if getattr(job, "kind", "script") != "script":
        if not job.entrypoint:
            raise ValidationError("A code job needs an entrypoint.", code="source")
        return
    if not job.script and not job.script_path:
        raise ValidationError("Upload a .py script or give a path under parsers/.", code="source")


def validate_schedule_fields(job: Any) -> None:
    if job.cron and (job.repeat_every or job.start_at):
        raise ValidationError(
            "Use either a cron expression or start_at/repeat_every, not both.", code="schedule"
        )
    if job.repeat_every is not None:
        if not job.start_at:
            raise ValidationError({"start_at": "An interval schedule needs a start time."})
        if job.repeat_every.total_seconds() < 1:
            raise ValidationError({"repeat_every": "The interval must be at least one second."})
