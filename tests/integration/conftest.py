"""The production-like stack, started once per test session.

Real PostgreSQL (the suite's cluster, a database of its own), RabbitMQ and a moto
S3 endpoint; then gunicorn, one ``rundramatiq`` worker and ``runscheduler``, each
a separate process with production settings (``parseq.settings``) read from the
environment. Tests talk to it over HTTP only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.integration.stack import BIN, ROOT, Api, Service, wait_until
from tests.services import free_port
from tests.services.rabbitmq import RabbitMQServer
from tests.services.s3 import S3Server

HEARTBEAT_SECONDS = 1
METRICS_TOKEN = "integration-metrics-token"
SHUTDOWN_GRACE = 3


@dataclass
class Stack:
    base: Path
    env: dict[str, str]
    api: Api
    web: Service
    worker: Service
    scheduler: Service
    rabbitmq: RabbitMQServer
    s3: S3Server
    postgres: object
    counters: Path

    def manage(self, *args: str, env: dict | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def new_worker(self, name: str, *args: str, **env: str) -> Service:
        worker_env = {
            **self.env,
            "PARSEQ_DATA_DIR": str(self.base / name),
            # Dramatiq's metrics: a port and a multiprocess folder of each worker's own.
            "PARSEQ_WORKER_METRICS_PORT": str(free_port()),
            "dramatiq_prom_db": str(self.base / name / "prometheus"),
            **env,
        }
        argv = [
            sys.executable,
            "manage.py",
            "rundramatiq",
            "--processes",
            "1",
            "--threads",
            "4",
            "--worker-shutdown-timeout",
            "60000",
            *args,
        ]
        return Service(name, argv, worker_env, self.base).start()

    def restart_worker(self) -> None:
        """Stop (or reap) the main worker and start a fresh one; messages wait in RabbitMQ."""
        self.worker.stop()
        self.worker = self.new_worker("worker")


def scheduler_argv() -> list[str]:
    return [sys.executable, "manage.py", "runscheduler", "--poll", "0.5", "--housekeeping", "1"]


@pytest.fixture(scope="session")
def stack(rabbitmq, s3_server, postgres_server):
    base = Path(tempfile.mkdtemp(prefix="parseq-it-"))
    counters = base / "counters"
    counters.mkdir()
    os.chmod(base, 0o755)
    database = f"parseq_it_{secrets.token_hex(4)}"
    postgres_server.psql(f"CREATE DATABASE {database}")
    port = free_port()
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "SECRET_KEY": "integration-secret-key",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": postgres_server.url(database),
        "DATABASE_CONN_MAX_AGE": "60",
        "PARSEQ_BROKER_URL": rabbitmq.url,
        **s3_server.settings_env(),
        "AWS_S3_CONNECT_TIMEOUT": "2",
        "AWS_S3_READ_TIMEOUT": "3",
        "AWS_S3_MAX_ATTEMPTS": "1",
        "PARSEQ_DATA_DIR": str(base / "web"),
        "PARSEQ_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "PARSEQ_KILL_GRACE": "1",
        "PARSEQ_SHUTDOWN_GRACE": str(SHUTDOWN_GRACE),
        "PARSEQ_RESEND_AFTER_SECONDS": "2",
        "PARSEQ_SPOOL_RETRY_SECONDS": "1",
        "PARSEQ_DB_RETRY_SECONDS": "60",
        "PARSEQ_TRIGGER_THROTTLE": "100000/min",
        "LOG_LEVEL": "INFO",
        "PARSEQ_LOG_FORMAT": "json",
        "PARSEQ_METRICS": "1",
        "PARSEQ_METRICS_TOKEN": METRICS_TOKEN,
        # The shared worker runs scripts unsandboxed, as itself: the fault tests follow a
        # script's host pid and count its runs in a folder outside its workspace. The
        # sandbox on this path: test_sandbox_production.py (a sandboxed worker of its own).
        "PARSEQ_SANDBOX": "off",
        "PARSEQ_SCRIPT_USER": "root",
    }
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True, "timeout": 180}
    result = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], **run)
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth.models import User;"
            "from rest_framework.authtoken.models import Token;"
            "u = User.objects.create_superuser('ops', 'ops@example.com', 'pw');"
            "print(Token.objects.create(user=u).key)",
        ],
        **run,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    web = Service(
        "web",
        [
            str(BIN / "gunicorn"),
            "parseq.wsgi:application",
            "--config",
            "python:parseq.gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "120",
            "--keep-alive",
            "30",
        ],
        env,
        base,
    ).start()
    api = Api(f"http://127.0.0.1:{port}", token)
    stack = Stack(
        base=base,
        env=env,
        api=api,
        web=web,
        worker=None,
        scheduler=Service("scheduler", scheduler_argv(), env, base).start(),
        rabbitmq=rabbitmq,
        s3=s3_server,
        postgres=postgres_server,
        counters=counters,
    )
    stack.worker = stack.new_worker("worker")

    def web_up():
        try:
            return requests.get(api.url("/admin/login/"), timeout=5).status_code == 200
        except requests.RequestException:
            assert web.alive(), web.log()[-3000:]
            return False

    try:
        wait_until(web_up, 90, "gunicorn to answer", every=0.3)
        yield stack
    finally:
        for service in (stack.web, stack.worker, stack.scheduler):
            if service is not None:
                service.stop(timeout=15)
        if not os.environ.get("PARSEQ_KEEP_TEST_DIRS"):  # keep the process logs to debug
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def api(stack) -> Api:
    """The HTTP client of the stack (overrides the in-process APIClient fixture)."""
    assert stack.web.alive(), stack.web.log()[-3000:]
    assert stack.worker.alive(), stack.worker.log()[-3000:]
    assert stack.scheduler.alive(), stack.scheduler.log()[-3000:]
    return stack.api
