"""Code jobs on the production path: a host project's settings (tests.settings, with
tests/codejobs_app), real PostgreSQL and RabbitMQ, a ``rundramatiq`` worker (Django fork
server on) and ``runscheduler`` as separate processes. The code job writes a row with
the host app's model, once by ``manage.py <slug>`` and once on its schedule."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.conftest import scheduler_argv
from tests.integration.stack import BIN, ROOT, Service, wait_until

pytestmark = pytest.mark.slow
QUEUE = "codejobs-it"  # a queue of its own: the session's other stack shares RabbitMQ


class HostProject:
    def __init__(self, base: Path, env: dict[str, str]):
        self.base, self.env = base, env

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def query(self, code: str):
        """The JSON a snippet of Django code prints (run in a fresh manage.py shell)."""
        result = self.manage("shell", "-c", code)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def host(rabbitmq, postgres_server):
    base = Path(tempfile.mkdtemp(prefix="parseq-code-it-"))
    database = f"parseq_code_{secrets.token_hex(4)}"
    postgres_server.psql(f"CREATE DATABASE {database}")
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SECRET_KEY": "code-jobs-integration",
        "DATABASE_URL": postgres_server.url(database),
        "PARSEQ_BROKER_URL": rabbitmq.url,
        "PARSEQ_DATA_DIR": str(base / "data"),
        "PARSEQ_HEARTBEAT_SECONDS": "1",
        "PARSEQ_KILL_GRACE": "1",
        "LOG_LEVEL": "INFO",
    }
    project = HostProject(base, env)
    migrated = project.manage("migrate", "--no-input", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    worker = Service(
        "code-worker",
        [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "2",
            "--queues",
            QUEUE,
        ],
        env,
        base,
    ).start()
    scheduler = Service("code-scheduler", scheduler_argv(), env, base).start()
    try:
        yield project
    finally:
        for service in (worker, scheduler):
            service.stop(timeout=15)
        if not os.environ.get("PARSEQ_KEEP_TEST_DIRS"):
            shutil.rmtree(base, ignore_errors=True)


def test_syncjobs_creates_the_code_jobs_and_a_second_run_changes_nothing(host):
    first = host.manage("syncjobs")
    assert first.returncode == 0, first.stderr
    assert "write-note" in first.stdout and "created" in first.stdout
    rows = (
        "from scripts_app.models import Job; import json; print(json.dumps(sorted("
        "(j.slug, j.kind, j.updated_at.isoformat()) for j in Job.objects.all())))"
    )
    before = host.query(rows)
    again = host.manage("syncjobs")
    assert "0 created, 0 updated, 0 disabled" in again.stdout
    assert host.query(rows) == before
    assert ["write-note", "code"] in [row[:2] for row in before]


def test_manage_py_slug_runs_the_code_job_which_writes_a_row(host):
    host.manage("syncjobs")
    done = host.manage("write-note", "--params", '{"text": "from manage.py"}')
    assert done.returncode == 0, done.stderr
    assert "printed from manage.py" in done.stdout  # its output, echoed as it runs
    note = host.query(
        "from tests.codejobs_app.models import Note; import json;"
        "n = Note.objects.get(text='from manage.py');"
        "from scripts_app.models import Execution; e = Execution.objects.get(pk=n.run_id);"
        "print(json.dumps([e.status, e.trigger, e.job.slug]))"
    )
    assert note == ["succeeded", "cli", "write-note"]


def test_the_scheduler_fires_the_code_job_on_the_worker(host):
    host.manage("syncjobs")
    host.query(  # the operator's schedule and queue (code does not declare them)
        "from datetime import timedelta; from django.utils import timezone;"
        "from scripts_app.models import Job; j = Job.objects.get(slug='write-note');"
        f"j.queue = '{QUEUE}'; j.start_at = timezone.now() + timedelta(seconds=2);"
        "j.repeat_every = timedelta(hours=1); j.default_params = {'text': 'on schedule'};"
        "j.save(); print('1')"
    )
    check = (
        "from scripts_app.models import Execution; import json;"
        "e = Execution.objects.filter(job__slug='write-note', trigger='schedule')"
        ".exclude(status__in=['queued', 'running']).first();"
        "from tests.codejobs_app.models import Note;"
        "print(json.dumps(e and [e.status, e.error, e.worker,"
        " list(Note.objects.filter(run_id=e.pk).values_list('text', flat=True))]))"
    )
    status, error, worker, notes = wait_until(lambda: host.query(check), 60, "the scheduled run")
    assert status == "succeeded", error
    assert notes == ["on schedule"]
    assert worker  # carried out by the rundramatiq worker
