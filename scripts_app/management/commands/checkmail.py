"""``manage.py checkmail``: log in to the SMTP server and say whether it works."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scripts_app.runs import mailcheck


class Command(BaseCommand):
    help = "Connect to the SMTP server and log in; exit 1 with the reason if that fails."

    def handle(self, *args, **options) -> None:
        result = mailcheck.check()
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(result.message)
