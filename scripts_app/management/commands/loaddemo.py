from django.core.management.base import BaseCommand

from scripts_app.services.demo import load_demo_jobs


class Command(BaseCommand):
    help = "Create the demo jobs from parsers/demo_jobs.json (idempotent)."

    def handle(self, *args, **options):
        created, kept = load_demo_jobs()
        for slug in created:
            self.stdout.write(f"created demo job {slug}")
        if kept:
            self.stdout.write(f"already present: {', '.join(kept)}")
