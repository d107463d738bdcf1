"""``manage.py pruneenvs``: evict cached per-script environments not in use."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scripts_app.worker import environments


def mb(size: int) -> str:
    return f"{size / 1048576:.1f} MB"


class Command(BaseCommand):
    help = (
        "Evict cached per-script environments of this host's cache (PARSEQ_ENV_CACHE), least "
        "recently used first, down to PARSEQ_ENV_CACHE_MAX_MB; environments in use (a run or "
        "a warm fork server holds them) are never removed. Also deletes interrupted builds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", help="Evict every environment that is not in use."
        )
        parser.add_argument("--max-mb", type=int, help="Evict down to this size instead.")
        parser.add_argument(
            "--uv-cache", action="store_true", help="Also prune uv's download cache."
        )

    def handle(self, *args, all: bool, max_mb: int | None, uv_cache: bool, **options):
        if max_mb is not None and max_mb < 0:
            raise CommandError("--max-mb must be 0 or more")
        report = environments.prune(everything=all, max_mb=max_mb)
        for entry in report.evicted:
            self.stdout.write(f"evicted {entry.key} ({mb(entry.size_bytes)})")
        if report.in_use:
            self.stdout.write(f"{len(report.in_use)} environment(s) in use were kept")
        total = sum(entry.size_bytes for entry in report.kept)
        self.stdout.write(
            f"{len(report.evicted)} evicted; {len(report.kept)} kept ({mb(total)}) in "
            f"{settings.PARSEQ_ENV_CACHE}"
        )
        if uv_cache:
            environments.prune_uv_cache()
            self.stdout.write("uv cache pruned")
