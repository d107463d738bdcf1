"""Dramatiq middleware for Parseq workers (cross-cutting worker concerns live here)."""

from __future__ import annotations

import logging
import threading
import time

from django import db
from django_dramatiq.middleware import DbConnectionsMiddleware
from dramatiq.middleware import Middleware

from scripts_app.runs import mailcheck

logger = logging.getLogger(__name__)


class DbConnections(DbConnectionsMiddleware):
    """django_dramatiq's connection hygiene, without a health-check query per message.

    Its ``close_old_connections`` around every message makes the next query pay a
    ``SELECT 1`` round trip (CONN_HEALTH_CHECKS): at a hundred runs a second that is
    a hundred extra queries. Here it runs at most once a second per thread, and at
    once after any database error; the run's own writes retry a dropped connection
    anyway (resilience.retry_db).
    """

    EVERY_SECONDS = 1.0

    def __init__(self):
        self.local = threading.local()

    def _close_old_connections(self, *args, **kwargs):
        now = time.monotonic()
        if now - getattr(self.local, "checked", float("-inf")) < self.EVERY_SECONDS and not any(
            conn.errors_occurred for conn in db.connections.all(initialized_only=True)
        ):
            return
        self.local.checked = now
        db.close_old_connections()

    before_process_message = _close_old_connections
    after_process_message = _close_old_connections


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
        # A broker outlives its workers (tests start several in one process): each worker
        # gets a relay of its own, not the last one's stop signal.
        self.stopping = threading.Event()
        with self.lock:
            self.in_flight.clear()
        threading.Thread(
            target=self._loop, args=(broker, self.stopping), name="parseq-relay", daemon=True
        ).start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._done(message)

    def after_skip_message(self, broker, message):
        self._done(message)

    def _done(self, message) -> None:
        from scripts_app.runs.sending import ACTOR_NAME

        if message.actor_name == ACTOR_NAME and message.args:
            with self.lock:
                self.in_flight.discard(message.args[0])

    def _loop(self, broker, stopping: threading.Event) -> None:
        from django.db import close_old_connections

        while not stopping.wait(self.POLL_SECONDS):
            try:
                self.pump()
            except Exception:  # keep relaying through a database hiccup
                logger.exception("local relay failed; retrying")
            finally:
                close_old_connections()

    def pump(self) -> int:
        from scripts_app.runs import concurrency, sending

        sent = 0
        for execution_id, queue, priority in concurrency.startable():
            with self.lock:
                if execution_id in self.in_flight:
                    continue
                self.in_flight.add(execution_id)
            sending.publish(execution_id, queue, priority=priority)
            sent += 1
        return sent


class DeclareQueues(Middleware):
    """Make the worker consume the queues it is meant to serve.

    A Dramatiq worker only consumes queues declared in its process, and the actor
    declares just ``default``. ``rundramatiq --queues heavy`` consumes exactly
    ``heavy``; without ``--queues`` the worker serves ``PARSEQ_QUEUES``.
    """

    def before_worker_boot(self, broker, worker):
        from django.conf import settings

        for queue in sorted(worker.consumer_whitelist or settings.PARSEQ_QUEUES):
            broker.declare_queue(queue)


class ShutdownGrace(Middleware):
    """On SIGTERM: take no new runs, give running ones ``PARSEQ_SHUTDOWN_GRACE`` seconds,
    then their supervisors stop them and record ``worker shut down``."""

    def before_worker_shutdown(self, broker, worker):
        from django.conf import settings

        from scripts_app.worker.shutdown import SHUTDOWN

        logger.info(
            "worker stopping: running scripts get %s s to finish", settings.PARSEQ_SHUTDOWN_GRACE
        )
        SHUTDOWN.begin(settings.PARSEQ_SHUTDOWN_GRACE)

    def after_worker_boot(self, broker, worker):
        from scripts_app.worker.shutdown import SHUTDOWN

        SHUTDOWN.reset()

    def after_worker_shutdown(self, broker, worker):
        from scripts_app.worker.shutdown import SHUTDOWN

        SHUTDOWN.reset()  # the worker has stopped: nothing is left to wind down


class SpoolUploader(Middleware):
    """Retries uploading outputs that were spooled because storage was unreachable."""

    def __init__(self):
        self.stopping = threading.Event()

    def after_worker_boot(self, broker, worker):
        threading.Thread(target=self._loop, name="parseq-spool", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def _loop(self) -> None:
        from django.conf import settings
        from django.db import close_old_connections

        from scripts_app.worker.spool import store_spooled_safely

        while True:
            store_spooled_safely()
            close_old_connections()
            if self.stopping.wait(settings.PARSEQ_SPOOL_RETRY_SECONDS):
                return


class MailCheck(Middleware):
    """Once at start, when run e-mail is configured: is the SMTP server, login and
    password right? Logged from a thread (a dead server may take EMAIL_TIMEOUT to
    answer), never stopping the worker: mail that fails is retried later."""

    def after_worker_boot(self, broker, worker):
        if mailcheck.configured():
            threading.Thread(
                target=mailcheck.log_check, name="parseq-mailcheck", daemon=True
            ).start()


class ForkServer(Middleware):
    """Start scripts from a pre-started interpreter in this worker (PARSEQ_FORK_SERVER).

    At boot the sandbox is decided first (worker/sandboxing.py: PARSEQ_SANDBOX=bwrap and a
    failing probe stop the worker here); the server is warmed up, sandboxed or not, so the
    first run is fast too — and, when there are code jobs, the Django fork server too, in
    the background; stopped with the worker.
    """

    def after_worker_boot(self, broker, worker):
        from django.conf import settings

        from scripts_app.worker import sandboxing

        try:  # first: the sandbox decides which fork server to warm up
            sandboxing.at_worker_start()
        except sandboxing.SandboxUnavailable as exc:
            logger.critical("the worker refuses to start: %s", exc)
            raise SystemExit(3) from exc
        if not settings.PARSEQ_FORK_SERVER:
            return
        from pathlib import Path

        from scripts_app.worker.runner import pool, zygote
        from scripts_app.worker.runner.workspace import Workspace, clean_env

        pool.POOL.configure(settings.PARSEQ_ENV_FORK_SERVERS, settings.PARSEQ_ENV_FORK_SERVER_IDLE)
        warm_env = clean_env(Workspace(Path("/nonexistent")), {})
        try:
            zygote.enable(*sandboxing.warm_wrapper(warm_env))
        except OSError:
            logger.exception("fork server did not start; scripts start the classic way")
            zygote.disable()
            return
        threading.Thread(target=_warm_code_server, name="parseq-code-server", daemon=True).start()

    def after_worker_shutdown(self, broker, worker):
        from scripts_app.worker.runner import zygote
        from scripts_app.worker.steps import WORKSPACES

        zygote.disable()
        WORKSPACES.clear()  # atexit does not run in Dramatiq's worker processes


def _warm_code_server() -> None:
    from django.db import connection

    from scripts_app.worker import code_runs

    try:
        code_runs.warm_server()
    except Exception:  # the database or the server: code jobs then start it on first use
        logger.exception("could not warm the Django fork server")
    finally:
        connection.close()  # this thread's own, opened to ask whether there are code jobs


class EnvironmentCache(Middleware):
    """At boot, in the background: delete interrupted builds in this worker's environment
    cache and make its records (which worker holds which environment) match its disk."""

    def after_worker_boot(self, broker, worker):
        threading.Thread(target=self._tidy, name="parseq-env-cache", daemon=True).start()

    def _tidy(self) -> None:
        from django.db import close_old_connections

        from scripts_app.worker import environments

        try:
            environments.prune()
        except Exception:  # a display and a tidy-up: never stop the worker for them
            logger.exception("could not tidy the environment cache")
        finally:
            close_old_connections()
