from django.core.management.base import BaseCommand

from scripts_app.jobs.demo import load_demo_jobs


class Command(BaseCommand):
    help = "Create the demo jobs from parsers/demo_jobs.json (idempotent)."

    def handle(self, *args, **options):
        loaded = load_demo_jobs()
        for slug in loaded.created:
            self.stdout.write(f"created demo job {slug}")
        if loaded.kept:
            self.stdout.write(f"already present: {', '.join(loaded.kept)}")
        for slug, reason in loaded.skipped.items():
            self.stderr.write(f"skipped demo job {slug}: {reason}")
