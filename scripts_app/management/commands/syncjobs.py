"""``manage.py syncjobs``: code jobs (``@job``, ``BaseJob`` in apps' ``jobs.py``) into Job rows."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from scripts_app.code import sync


class Command(BaseCommand):
    help = "Create or update the Job rows of code jobs; disable those gone from the code."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-schedules",
            action="store_true",
            help="Also apply the code's enabled flag and schedule over the operator's edits.",
        )

    def handle(self, *args, **options) -> None:
        try:
            report = sync.sync_jobs(reset_operator_fields=options["reset_schedules"])
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(report))
