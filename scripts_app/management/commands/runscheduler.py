"""``manage.py runscheduler``: the scheduler process (never part of a web worker).

Several may run at once (they claim jobs with SKIP LOCKED). SIGTERM or Ctrl-C
stops it between ticks; a tick in progress finishes and commits first.
"""

from __future__ import annotations

import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from scripts_app.observability import heartbeat
from scripts_app.scheduling import loop

logger = logging.getLogger("scripts_app.scheduler")


class Command(BaseCommand):
    help = "Fire scheduled jobs, re-send stale queued runs and reap lost ones, until SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Run one tick and exit (e.g. from cron)."
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=1.0,
            help="Longest sleep between checks, in seconds: how soon an admin edit is seen.",
        )
        parser.add_argument(
            "--housekeeping",
            type=float,
            default=5.0,
            help="Seconds between re-sends of stale queued runs and reaps of lost ones.",
        )

    def handle(self, *args, once: bool, poll: float, housekeeping: float, **options):
        if once:
            self.once()
            return
        stop = heartbeat.BeatingEvent("scheduler")  # each pass of the loop beats

        def on_signal(signum, frame):
            logger.info(
                "scheduler: %s received; stopping after this tick", signal.Signals(signum).name
            )
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        logger.info("scheduler started (poll %.1f s)", poll)
        try:
            loop.run(stop, poll=poll, housekeeping=housekeeping)
        finally:
            stop.heartbeat.stop()
        logger.info("scheduler stopped")

    def once(self) -> None:
        """One tick: what it fired, and every step that failed (then exit status 1)."""
        results = loop.tick()
        self.stdout.write(results.fired.summary())
        for name, exc in results.failed.items():
            self.stderr.write(f"step {name} failed: {type(exc).__name__}: {exc}")
        if results.failed:
            count = len(results.failed)
            names = ", ".join(results.failed)
            raise CommandError(f"{count} step{'s' if count > 1 else ''} failed: {names}")
