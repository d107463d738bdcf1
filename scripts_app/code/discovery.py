"""Import every installed app's ``jobs`` module, as the admin imports ``admin`` modules:
declaring a code job (``@job``, ``BaseJob``) is importing it."""

from __future__ import annotations

from django.utils.module_loading import autodiscover_modules

JOBS_MODULE = "jobs"


def autodiscover() -> None:
    """Called from ``ScriptsAppConfig.ready``: every process (web, worker, scheduler, the
    Django fork server, ``manage.py``) sees the same code jobs."""
    autodiscover_modules(JOBS_MODULE)
