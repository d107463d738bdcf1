"""Shared fixtures: named users, API clients, a real in-process Dramatiq worker,
and script files. Service fixtures (PostgreSQL, RabbitMQ, S3, SMTP, a browser)
live in tests/services/ and are loaded below as plugins."""

from __future__ import annotations

import os
import textwrap

import dramatiq
import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from dramatiq import Worker
from rest_framework.test import APIClient

from scripts_app.models import Job
from scripts_app.worker import script_cache

pytest_plugins = [
    "tests.services.fixtures",
    "tests.services.smtp",
    "tests.services.rabbitmq",
    "tests.services.s3",
    "tests.services.browser",
    "tests.package_index",
]


@pytest.fixture
def alice(db) -> User:
    """Superuser: may do anything."""
    return User.objects.create_superuser("alice", "alice@example.com", "password")


@pytest.fixture
def bob(db) -> User:
    """Operator: may view and run jobs, not change them."""
    user = User.objects.create_user("bob", "bob@example.com", "password")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["run_job", "view_job", "view_execution"],
            content_type__app_label="scripts_app",
        )
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def charlie(db) -> User:
    """Authenticated, but with no Parseq permissions."""
    return User.objects.create_user("charlie", "charlie@example.com", "password")


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def script_file(source: str, name: str = "script.py") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, textwrap.dedent(source).encode(), content_type="text/x-python")


@pytest.fixture
def make_job(db):
    """Create a job from Python source: ``make_job("def main(d): return d", slug="echo")``."""

    def make(
        source: str = "def main(data):\n    return data\n", slug: str = "echo", **fields
    ) -> Job:
        fields.setdefault("name", slug.title())
        job = Job(slug=slug, **fields)
        job.script = script_file(source, f"{slug}.py")
        job.full_clean()
        job.save()
        return job

    return make


def execute_concurrently(execution_ids: list[int], timeout: float = 120) -> dict[int, object]:
    """Carry out queued runs at once, one thread (and database connection) each, as a
    worker's threads do; execution id → the run as it ended."""
    import threading

    from django.db import connection

    from scripts_app.worker import execution

    ended: dict[int, object] = {}

    def execute(execution_id: int) -> None:
        try:
            ended[execution_id] = execution.execute(execution_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=execute, args=(pk,)) for pk in execution_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return ended


@pytest.fixture
def worker(transactional_db):
    """A real Dramatiq worker consuming the in-process broker in this process."""
    import scripts_app.tasks  # noqa: F401  (declares the actor, as rundramatiq does)

    broker = dramatiq.get_broker()
    broker.flush_all()
    w = Worker(broker, worker_threads=2, worker_timeout=100)
    w.start()
    yield w
    w.stop()
    broker.flush_all()


@pytest.fixture(autouse=True)
def _media_and_workdirs(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PARSEQ_WORK_DIR = tmp_path / "runs"
    os.makedirs(settings.MEDIA_ROOT, exist_ok=True)
    script_cache.forget_all()  # each test's storage is its own


@pytest.fixture
def unsandboxed(settings):
    """Scripts run as before issue 15: no sandbox, as this process's user — for tests of
    what only the host's view shows (host pids, parent processes, files outside the
    workspace). The sandbox's own tests: tests/test_sandbox_*.py."""
    settings.PARSEQ_SANDBOX = "off"
    settings.PARSEQ_SCRIPT_USER = "root"
