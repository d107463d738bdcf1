"""Loading the demo jobs described by ``parsers/demo_jobs.json``."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import transaction

from scripts_app.models import Job

DEMO_FILE = "demo_jobs.json"


def demo_specs(parsers_dir: Path | None = None) -> list[dict]:
    path = Path(parsers_dir or settings.PARSEQ_PARSERS_DIR) / DEMO_FILE
    return json.loads(path.read_text(encoding="utf-8"))


@transaction.atomic
def load_demo_jobs(parsers_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """Create the demo jobs that do not exist yet; never touch ones that do.

    Returns (created slugs, kept slugs), so running it twice changes nothing.
    """
    created, kept = [], []
    for spec in demo_specs(parsers_dir):
        if Job.objects.filter(slug=spec["slug"]).exists():
            kept.append(spec["slug"])
            continue
        job = Job(**spec)
        job.full_clean()
        job.save()
        created.append(job.slug)
    return created, kept
