"""Dramatiq middleware for Parseq workers (cross-cutting worker concerns live here)."""

from __future__ import annotations

import logging
import threading

from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)


class LocalRelay(Middleware):
    """Feeds the in-process broker from the database (embedded mode only).

    Every run is recorded as ``queued`` before it is sent, so the database is the
    queue of record; this thread enqueues each queued run once into this worker's
    in-process broker. The worker's claim makes any repeat harmless.
    """

    POLL_SECONDS = 0.25

    def __init__(self):
        self.in_flight: set[int] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def after_worker_boot(self, broker, worker):
        threading.Thread(
            target=self._loop, args=(broker,), name="parseq-relay", daemon=True
        ).start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._done(message)

    def after_skip_message(self, broker, message):
        self._done(message)

    def _done(self, message) -> None:
        if message.actor_name == "run_execution" and message.args:
            with self.lock:
                self.in_flight.discard(message.args[0])

    def _loop(self, broker) -> None:
        from django.db import close_old_connections

        while not self.stopping.wait(self.POLL_SECONDS):
            try:
                self.pump()
            except Exception:  # keep relaying through a database hiccup
                logger.exception("local relay failed; retrying")
            finally:
                close_old_connections()

    def pump(self) -> int:
        from scripts_app.services.recovery import runnable_queued_ids
        from scripts_app.tasks import enqueue_run

        sent = 0
        for execution_id, queue in runnable_queued_ids():
            with self.lock:
                if execution_id in self.in_flight:
                    continue
                self.in_flight.add(execution_id)
            enqueue_run(execution_id, queue)
            sent += 1
        return sent
