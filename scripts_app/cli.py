"""``python manage.py <slug>``: a job's slug works as a management command.

Django finds commands by module name, so unknown command names fall back to a
job lookup. Installed from AppConfig.ready(), so it works in any host project.
"""

from __future__ import annotations

from django.core.management import ManagementUtility, get_commands

_original_fetch = ManagementUtility.fetch_command


def _job_exists(slug: str) -> bool:
    from django.db import DatabaseError

    from scripts_app.models import Job

    try:
        return Job.objects.filter(slug=slug).exists()
    except DatabaseError:  # not migrated yet: behave like plain Django
        return False


def _fetch_command(self: ManagementUtility, subcommand: str):
    if subcommand not in get_commands() and _job_exists(subcommand):
        from scripts_app.management.commands.runjob import SlugCommand

        return SlugCommand(slug=subcommand)
    return _original_fetch(self, subcommand)


def install_slug_commands() -> None:
    ManagementUtility.fetch_command = _fetch_command
