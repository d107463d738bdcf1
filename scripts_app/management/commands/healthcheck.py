"""``manage.py healthcheck --worker | --scheduler``: exit 0 only if that process is alive
on this host (its heartbeat file is fresh). For container liveness probes; it reads no
database, so a database outage does not get healthy workers restarted."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scripts_app.observability import heartbeat


class Command(BaseCommand):
    help = "Exit 0 when this host's worker (or scheduler) processes beat their heartbeat."
    requires_system_checks = []  # fast, and no database

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--worker", action="store_const", const="worker", dest="process")
        which.add_argument("--scheduler", action="store_const", const="scheduler", dest="process")
        parser.add_argument(
            "--max-age",
            type=float,
            default=heartbeat.MAX_AGE,
            help=f"Seconds since the last beat that still count as alive ({heartbeat.MAX_AGE:.0f}).",
        )

    def handle(self, *args, process: str, max_age: float, **options):
        health = heartbeat.check(process, max_age)
        if not health.ok:
            raise CommandError(health.reason)  # exit status 1
        self.stdout.write(health.reason)
