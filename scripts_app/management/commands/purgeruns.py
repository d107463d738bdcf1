"""``manage.py purgeruns --older-than 30d``: delete old finished runs and their files."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scripts_app.scheduling import retention


class Command(BaseCommand):
    help = "Delete finished runs older than an age (30d, 12h, 90m), with their logs and files."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", required=True, help="Age such as 30d, 12h, 90m, 2w or 45s."
        )
        parser.add_argument(
            "--batch-size", type=int, default=retention.BATCH, help="Runs deleted per transaction."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args, older_than: str, batch_size: int, dry_run: bool, **options):
        try:
            age = retention.parse_age(older_than)
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}") from None
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if dry_run:
            count = retention.finished_before(timezone.now() - age).count()
            self.stdout.write(f"{count} runs older than {older_than} would be deleted")
            return
        count = retention.purge_older_than(age, batch_size)
        self.stdout.write(f"deleted {count} runs older than {older_than}")
