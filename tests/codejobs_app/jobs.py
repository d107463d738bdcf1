"""The host app's code jobs, found by autodiscovery (scripts_app.code.discovery)."""

import logging
import os
import signal
import subprocess
import sys
import time

from django.db import connection

from scripts_app import BaseJob, job, runtime
from tests.codejobs_app.models import Note

logger = logging.getLogger("codejobs_app.jobs")


@job(
    slug="write-note",
    timeout=60,
    params_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    default_params={"text": "hello"},
)
def write_note(data):
    """Writes a Note with the host app's model."""
    note = Note.objects.create(text=data["text"], run_id=runtime.run_id())
    logger.info("wrote note %s", note.pk)
    print("printed", data["text"])
    runtime.write_output(f"note {note.pk}")
    return {"note": note.pk, "secret": os.environ.get("NOTE_SECRET", "")}


@job(slug="code-noop")
def noop(data):
    return None


@job(slug="code-fails")
def fails(data):
    return _explode(data)


def _explode(data):
    raise ValueError(f"no good: {data.get('why', 'because')}")


@job(slug="code-bad-result")
def bad_result(data):
    return {"when": object()}


@job(slug="connection-probe")
def connection_probe(data):
    """Reports whether this process started without a database connection, and which
    server process its own connection got."""
    fresh = connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    time.sleep(data.get("hold", 0))
    return {"fresh": fresh, "backend": backend, "parent": os.getppid()}


class Stubborn(BaseJob):
    """Ignores SIGTERM and starts a child that does too; only SIGKILL ends them."""

    slug = "stubborn"
    timeout = 2

    def run(self, data):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
            ]
        )
        with open(data["pid_file"], "w") as handle:
            handle.write(f"{os.getpid()} {child.pid}")
        print("child started", flush=True)
        time.sleep(600)


@job(slug="code-hog", memory_limit_mb=256)
def hog(data):
    """Allocates ``mb`` megabytes."""
    block = bytearray(data["mb"] * 1024 * 1024)
    return {"allocated": len(block)}


class Quiet(BaseJob):
    slug = "code-quiet"

    def run(self, data):
        return {"quiet": True}
