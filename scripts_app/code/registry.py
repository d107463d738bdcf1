"""``@job`` and ``BaseJob``: code jobs declared in an app's ``jobs.py``.

    from scripts_app import job, BaseJob

    @job(slug="purge-sessions", cron="0 3 * * *", timeout=600)
    def purge_sessions(data): ...

    class MakeReport(BaseJob):
        slug = "make-report"
        params_schema = {"type": "object"}
        def run(self, data): ...

Declaring one registers a ``JobSpec`` here; ``sync.sync_jobs`` turns the registry into
Job rows. Settings are checked when the job is declared, by the same validators the
admin and the API use (``Job.clean_fields``/``clean``), so a bad cron or schema fails at
import with the job's name, not at its first run.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError

# The Job fields a code job may set (what makes sense from code: not its script, its
# secrets or its trigger token). Any other keyword is a TypeError naming the job.
CODE_FIELDS = (
    "slug",
    "name",
    "description",
    "cron",
    "timezone",
    "start_at",
    "repeat_every",
    "misfire_policy",
    "overlap_policy",
    "timeout",
    "queue",
    "params_schema",
    "default_params",
    "max_concurrency",
    "max_retries",
    "retry_backoff",
    "memory_limit_mb",
    "cpu_time_limit",
    "log_limit_bytes",
    "output_limit_bytes",
    "notify_on",
    "notify_emails",
    "enabled",
)
# The operator's once the job exists (see sync.py and the README): the code gives them
# at creation only.
OPERATOR_FIELDS = ("enabled", "cron", "timezone", "start_at", "repeat_every")


@dataclass(frozen=True)
class JobSpec:
    """A code job as declared: where it lives and the Job settings it gives."""

    slug: str
    entrypoint: str  # "package.module:qualname"
    settings: dict[str, Any]  # Job field -> value, only those the code gave (plus name)
    module_file: str


_REGISTRY: dict[str, JobSpec] = {}


def registered() -> dict[str, JobSpec]:
    """Every declared code job, by slug."""
    return dict(_REGISTRY)


def forget(slug: str) -> None:
    """Drop a declaration (tests that declare jobs of their own)."""
    _REGISTRY.pop(slug, None)


def job(func: Callable | None = None, /, **options: Any) -> Callable:
    """Declare a function ``f(data) -> dict | None`` as a code job (see module doc):
    ``@job(slug=…, cron=…, …)``; the function is returned unchanged."""

    def declare(target: Callable) -> Callable:
        if not callable(target) or inspect.isclass(target):
            raise TypeError(f"@job decorates a function, not {target!r}")
        _register(target, options)
        return target

    return declare(func) if func is not None else declare


class BaseJob:
    """A code job as a class: set ``slug`` (and any of ``CODE_FIELDS``), define
    ``run(self, data)``. A subclass without a ``slug`` of its own is abstract (a base
    for others) and is not registered."""

    slug: str = ""

    def run(self, data: dict) -> Any:
        raise NotImplementedError(f"{type(self).__qualname__}.run(self, data)")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "slug" not in cls.__dict__:
            return
        _register(cls, {name: getattr(cls, name) for name in _declared(cls)})


def _declared(cls: type) -> set[str]:
    """The settings given by this class or its BaseJob ancestors (not BaseJob's own)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is BaseJob or not issubclass(klass, BaseJob):
            continue
        names |= {name for name in CODE_FIELDS if name in klass.__dict__}
    return names


def entrypoint_of(target: Callable) -> str:
    return f"{target.__module__}:{target.__qualname__}"


def _register(target: Callable, options: dict[str, Any]) -> JobSpec:
    entrypoint = entrypoint_of(target)
    unknown = sorted(set(options) - set(CODE_FIELDS))
    if unknown:
        raise TypeError(f"code job {entrypoint}: unknown setting(s) {', '.join(unknown)}")
    if "<locals>" in target.__qualname__:
        raise ImproperlyConfigured(
            f"code job {entrypoint}: declare it at the top level of a module, where a "
            "worker can import it"
        )
    settings = _normalised(target, options)
    slug = settings.get("slug") or ""
    if not slug:
        raise ImproperlyConfigured(f"code job {entrypoint}: give it a slug")
    _validate(slug, entrypoint, settings)
    other = _REGISTRY.get(slug)
    if other is not None and other.entrypoint != entrypoint:
        raise ImproperlyConfigured(
            f"code jobs {other.entrypoint} and {entrypoint} both use the slug {slug!r}"
        )
    module = sys.modules.get(target.__module__)
    spec = JobSpec(slug, entrypoint, settings, getattr(module, "__file__", "") or "")
    _REGISTRY[slug] = spec
    return spec


def _normalised(target: Callable, options: dict[str, Any]) -> dict[str, Any]:
    settings = dict(options)
    settings.setdefault("enabled", True)  # what --reset-schedules restores
    settings.setdefault("name", _default_name(target, settings.get("slug") or ""))
    # Its own docstring only: a class without one would show BaseJob's (inspect.getdoc).
    doc = target.__dict__.get("__doc__") if inspect.isclass(target) else target.__doc__
    if "description" not in settings and doc:
        settings["description"] = inspect.cleandoc(doc)
    if isinstance(settings.get("repeat_every"), int | float):  # seconds, for convenience
        settings["repeat_every"] = timedelta(seconds=settings["repeat_every"])
    if isinstance(settings.get("notify_emails"), list | tuple):
        settings["notify_emails"] = ", ".join(settings["notify_emails"])
    return settings


def _default_name(target: Callable, slug: str) -> str:
    """``purge_sessions`` → "Purge sessions", ``MakeReport`` → "Make report"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", target.__name__).replace("_", " ").strip()
    return (words[:1].upper() + words[1:].lower()) or slug


def _validate(slug: str, entrypoint: str, settings: dict[str, Any]) -> None:
    """The model's own field validators and clean(), on an unsaved Job (no database)."""
    from scripts_app.models import Job, JobKind

    candidate = Job(kind=JobKind.CODE, entrypoint=entrypoint, **settings)
    try:
        candidate.clean_fields(exclude=["script", "script_path"])
        candidate.clean()
    except ValidationError as exc:
        raise ImproperlyConfigured(f"code job {slug!r} ({entrypoint}): {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def code_owned_fields(slug: str) -> list[str]:
    """The Job fields the code of ``slug`` sets at every sync (the admin shows them
    read-only); [] for a job no longer in the code."""
    spec = _REGISTRY.get(slug)
    if spec is None:
        return []
    return ["slug", *(name for name in spec.settings if name not in (*OPERATOR_FIELDS, "slug"))]


def module_file(entrypoint: str) -> str:
    """The file that defines ``entrypoint`` ("" when it cannot be found)."""
    import importlib.util

    for spec in _REGISTRY.values():
        if spec.entrypoint == entrypoint and spec.module_file:
            return spec.module_file
    try:
        found = importlib.util.find_spec(entrypoint.partition(":")[0])
    except (ImportError, ValueError):
        return ""
    return (found.origin or "") if found else ""
