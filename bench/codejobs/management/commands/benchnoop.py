"""The baseline: a job as a management command per run (seed 000's way)."""

import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def handle(self, *args, **options):
        self.stdout.write(f"started {time.time()}")
