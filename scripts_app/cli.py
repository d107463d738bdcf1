"""A job's slug works as a management command: ``python manage.py <slug>`` and, from any
code in the host project, ``django.core.management.call_command("<slug>", params={...})``.

Django looks a command up by name in ``get_commands()`` — ``{name: app name, or an
already loaded command}`` — both in ``manage.py`` (``ManagementUtility.fetch_command``)
and in ``call_command``. Installed from ``AppConfig.ready()``, ``install_slug_commands``
wraps that function once: its answer is the same dictionary, except that a name it does
not hold is looked up as a job slug and answers that job's command. Real commands always
win (a slug may not take a command's name: ``validators.validate_job_slug``), ``in`` and
listings (``manage.py help``) see only the real ones, and ``cache_clear`` still works.
"""

from __future__ import annotations

from functools import wraps

from django.core import management


def _job_exists(slug: str) -> bool:
    from django.db import DatabaseError

    from scripts_app.models import Job

    try:
        return Job.objects.filter(slug=slug).exists()
    except DatabaseError:  # not migrated yet: behave like plain Django
        return False


class CommandsAndJobs(dict):
    """Django's commands; a missing name that is a job's slug gives that job's command."""

    def __missing__(self, name: str):
        if not isinstance(name, str) or not _job_exists(name):
            raise KeyError(name)
        from scripts_app.management.commands.runjob import SlugCommand

        return SlugCommand(slug=name)


def install_slug_commands() -> None:
    original = management.get_commands
    if getattr(original, "parseq_slugs", False):
        return  # installed already (ready() may run more than once in tests)

    @wraps(original)
    def get_commands() -> dict:
        return CommandsAndJobs(original())

    get_commands.parseq_slugs = True
    get_commands.cache_clear = original.cache_clear  # Django's test signals call it
    management.get_commands = get_commands
