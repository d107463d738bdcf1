"""Process heartbeats: is this host's worker (or scheduler) alive?

Each worker and scheduler process touches a file of its own,
``PARSEQ_HEARTBEAT_DIR/<process>-<host>-<pid>``, holding its pid and start time:
  * a worker from a thread, every few seconds, while all its Dramatiq worker and
    consumer threads are alive;
  * a scheduler from its loop, on every pass (so a tick stuck for minutes stops it).
``manage.py healthcheck --worker|--scheduler`` (the container's liveness probe) reads
these files — a file, not the database, because a database outage must not make
Kubernetes restart every worker in the middle of its runs. It checks only this host's
files (the data dir may be a volume shared by replicas) and only processes still alive
(pid and start time), and removes the files of dead ones.

Every ``DB_EVERY`` seconds a beat is also written, best effort, to ``ProcessHeartbeat``
for the ``parseq_worker_heartbeat_timestamp_seconds`` metric.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

PROCESSES = ("worker", "scheduler")
BEAT_EVERY = 5.0  # a worker's beat thread
DB_EVERY = 15.0
MAX_AGE = 120.0  # default of healthcheck --max-age
# Facts about this process its heartbeat row carries, for the admin (a worker sets
# "sandboxed" at boot: worker/sandboxing.py).
FACTS: dict[str, object] = {}


def host() -> str:
    return socket.gethostname()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), None if it is gone:
    with the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return None


def heartbeat_dir() -> Path:
    return Path(settings.PARSEQ_HEARTBEAT_DIR)


class Beat:
    """The heartbeat of this process as a ``process`` ("worker" or "scheduler")."""

    def __init__(self, process: str):
        assert process in PROCESSES, process
        self.process = process
        self.pid = os.getpid()
        self.path = heartbeat_dir() / f"{process}-{host()}-{self.pid}"
        self.started = time.time()
        self.last_file = float("-inf")
        self.last_db = float("-inf")

    def beat(self) -> None:
        """Touch the file (at most once a second) and, now and then, the database row."""
        now = time.monotonic()
        if now - self.last_file >= 1.0:
            self._touch()
            self.last_file = now
        if now - self.last_db >= DB_EVERY:
            self.last_db = now
            self._record()

    def _touch(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(f"{self.pid} {start_time(self.pid)}\n")
            tmp.replace(self.path)  # atomic: a reader never sees half a file
        except OSError as exc:  # a full or read-only disk: the healthcheck will say so
            logger.warning("heartbeat file %s not written: %s", self.path, exc)

    def _record(self) -> None:
        from datetime import UTC, datetime, timedelta

        from django.db import DatabaseError, close_old_connections
        from django.utils import timezone

        from scripts_app.models_operations import ProcessHeartbeat

        now = timezone.now()
        try:
            _, created = ProcessHeartbeat.objects.update_or_create(
                host=host(),
                process=self.process,
                pid=self.pid,
                defaults={"beat_at": now, **FACTS},
                create_defaults={
                    "beat_at": now,
                    "started_at": datetime.fromtimestamp(self.started, tz=UTC),
                    **FACTS,
                },
            )
            if created:  # rows of processes that died without stopping: a day is plenty
                ProcessHeartbeat.objects.filter(beat_at__lt=now - timedelta(days=1)).delete()
        except DatabaseError as exc:  # the database is away: the file still beats
            logger.debug("heartbeat row not written: %s", exc)
        finally:
            if threading.current_thread() is not threading.main_thread():
                close_old_connections()

    def stop(self) -> None:
        """This process is stopping: no file, and no row claiming it is alive."""
        from django.db import DatabaseError

        from scripts_app.models_operations import ProcessHeartbeat

        self.path.unlink(missing_ok=True)
        try:
            ProcessHeartbeat.objects.filter(
                host=host(), process=self.process, pid=self.pid
            ).delete()
        except DatabaseError:
            pass


@dataclass
class Health:
    ok: bool
    reason: str


def check(process: str, max_age: float = MAX_AGE) -> Health:
    """Does every live ``process`` of this host beat, and is there one?"""
    here = host()
    now = time.time()
    live, stale = 0, []
    for path in sorted(heartbeat_dir().glob(f"{process}-{here}-*")):
        if path.suffix == ".tmp":
            continue
        try:
            pid_text, started = path.read_text().split()
            pid, age = int(pid_text), now - path.stat().st_mtime
        except (OSError, ValueError):
            continue  # replaced or removed while we looked
        if start_time(pid) != started:  # that process is gone: forget its file
            path.unlink(missing_ok=True)
            continue
        live += 1
        if age > max_age:
            stale.append(f"pid {pid} last beat {age:.0f} s ago")
    if stale:
        return Health(False, f"{process} on {here} not beating: {'; '.join(stale)}")
    if not live:
        return Health(False, f"no {process} process on {here} has a heartbeat")
    return Health(True, f"{live} {process} process(es) on {here} beating")


class BeatingEvent(threading.Event):
    """The scheduler loop's stop event: its every wait is a pass of the loop, so it beats."""

    def __init__(self, process: str = "scheduler"):
        super().__init__()
        self.heartbeat = Beat(process)

    def wait(self, timeout: float | None = None) -> bool:
        self.heartbeat.beat()
        return super().wait(timeout)


class WorkerHeartbeat(Middleware):
    """Beats while this worker process's Dramatiq threads are all alive."""

    def __init__(self):
        self.stopping = threading.Event()
        self.heartbeat: Beat | None = None

    def after_worker_boot(self, broker, worker):
        self.stopping.clear()
        self.heartbeat = Beat("worker")
        threading.Thread(
            target=self._loop, args=(worker,), name="parseq-heartbeat", daemon=True
        ).start()

    def _loop(self, worker) -> None:
        while True:
            if threads_alive(worker):
                self.heartbeat.beat()
            else:
                logger.error("a Dramatiq worker or consumer thread died; heartbeat stopped")
            if self.stopping.wait(BEAT_EVERY):
                return

    def before_worker_shutdown(self, broker, worker):
        self.stopping.set()

    def after_worker_shutdown(self, broker, worker):
        if self.heartbeat:
            self.heartbeat.stop()


def threads_alive(worker) -> bool:
    threads = [*getattr(worker, "workers", []), *getattr(worker, "consumers", {}).values()]
    return bool(threads) and all(thread.is_alive() for thread in threads)
