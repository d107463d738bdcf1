"""Parseq as separate production processes (gunicorn, rundramatiq, runscheduler) over
real PostgreSQL, RabbitMQ and S3, and an HTTP client for it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "skipped"}


def wait_until(check: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@dataclass
class Service:
    """One long-running Parseq process, in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> Service:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill_hard(self) -> None:
        """SIGKILL the whole process group, as when a machine or container dies."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, timeout: float = 30) -> None:
        if not self.alive():
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_hard()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Api:
    base_url: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.headers["Authorization"] = f"Token {self.token}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kw) -> requests.Response:
        try:
            return self.session.get(self.url(path), timeout=30, **kw)
        except requests.ConnectionError:  # a keep-alive connection the server just closed
            return self.session.get(self.url(path), timeout=30, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.session.post(self.url(path), timeout=30, **kw)

    def create_job(self, slug: str, source: str, **fields) -> dict:
        data = {"name": slug.replace("-", " ").title(), "slug": slug}
        for key, value in fields.items():
            data[key] = value if isinstance(value, str) else __import__("json").dumps(value)
        files = {"script": (f"{slug}.py", textwrap.dedent(source).encode(), "text/x-python")}
        response = self.post("/api/v1/jobs/", data=data, files=files)
        assert response.status_code == 201, response.text
        return response.json()

    def trigger(self, slug: str, data: dict | None = None) -> dict:
        response = self.post(f"/scripts/{slug}/", json={"data": data or {}})
        assert response.status_code == 202, response.text
        return response.json()

    def execution(self, execution_id: int) -> dict:
        response = self.get(f"/api/v1/executions/{execution_id}/")
        assert response.status_code == 200, response.text
        return response.json()

    def executions(self, slug: str) -> list[dict]:
        response = self.get("/api/v1/executions/", params={"job": slug, "limit": 100})
        assert response.status_code == 200, response.text
        body = response.json()
        return body["results"] if isinstance(body, dict) else body

    def wait_status(self, execution_id: int, statuses, timeout: float = 30) -> dict:
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        seen = {}

        def reached():
            seen.update(self.execution(execution_id))
            return seen["status"] in statuses

        try:
            wait_until(reached, timeout, f"run #{execution_id} to be {statuses}", every=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen {seen}") from None
        return dict(seen)

    def wait_final(self, execution_id: int, timeout: float = 30) -> dict:
        return self.wait_status(execution_id, FINAL, timeout)


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
