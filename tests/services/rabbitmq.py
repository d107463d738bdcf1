"""A throwaway RabbitMQ node: its own Mnesia dir, ports and Erlang cookie, on 127.0.0.1.

The node runs as user ``rabbitmq`` with HOME set to its temp dir (so the cookie
lives there), no plugins (fast start), and a short ``consumer_timeout`` checked
every second, so a test can hold a delivery longer than RabbitMQ allows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest

from tests.services import as_user, chown_to, free_port, need, server_env

USER = "rabbitmq"
SBIN = "/usr/lib/rabbitmq/bin"  # the real scripts; /usr/sbin wraps them with su
CONSUMER_TIMEOUT_MS = 4000


@dataclass
class RabbitMQServer:
    base: str
    node: str
    port: int
    dist_port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        return {
            **server_env(),
            "HOME": self.base,
            "RABBITMQ_HOME": "/usr/lib/rabbitmq",
            "RABBITMQ_MNESIA_BASE": os.path.join(self.base, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.base, "log"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.base, "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(self.base, "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.base, "enabled_plugins"),
            "RABBITMQ_PID_FILE": os.path.join(self.base, "rabbit.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(
            as_user(
                USER, ["env", f"HOME={self.base}", _bin("rabbitmqctl"), "-n", self.node, *args]
            ),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, timeout: float = 60) -> None:
        log = open(os.path.join(self.base, "server.out"), "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            as_user(USER, ["env", f"HOME={self.base}", _bin("rabbitmq-server")]),
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited; see {self.base}/server.out")
            if self.ctl("await_startup", "--timeout", "5", check=False, timeout=15).strip() or (
                self._answers()
            ):
                return
            time.sleep(0.3)
        raise RuntimeError("RabbitMQ did not start in time")

    def _answers(self) -> bool:
        try:
            self.ctl("status", timeout=15)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True

    def stop_app(self) -> None:
        """Simulate an outage: the node stays up, AMQP is gone."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")

    def queue_depths(self) -> dict[str, int]:
        out = self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages")
        depths = {}
        for line in out.splitlines():
            name, _, count = line.strip().partition("\t")
            if name:
                depths[name] = int(count or 0)
        return depths

    def destroy(self) -> None:
        if self.process and self.process.poll() is None:
            self.ctl("stop", check=False, timeout=30)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def _bin(name: str) -> str:
    path = os.path.join(SBIN, name)
    return path if os.path.exists(path) else need(name, "the RabbitMQ tests start a real node")


def start_node(consumer_timeout_ms: int = CONSUMER_TIMEOUT_MS) -> RabbitMQServer:
    need("rabbitmq-server", "the RabbitMQ tests start a real node")
    base = tempfile.mkdtemp(prefix="parseq-rabbit-")
    os.chmod(base, 0o755)
    with open(os.path.join(base, "rabbitmq.conf"), "w") as fh:
        fh.write("loopback_users = none\nlog.console = false\nlog.file.level = warning\n")
    with open(os.path.join(base, "advanced.config"), "w") as fh:
        fh.write(
            f"[{{rabbit, [{{consumer_timeout, {consumer_timeout_ms}}}, "
            "{channel_tick_interval, 1000}]}].\n"
        )
    with open(os.path.join(base, "enabled_plugins"), "w") as fh:
        fh.write("[].\n")
    for sub in ("mnesia", "log"):
        os.mkdir(os.path.join(base, sub))
    for root, dirs, files in os.walk(base):
        for name in [*dirs, *files]:
            chown_to(os.path.join(root, name), USER)
    chown_to(base, USER)
    server = RabbitMQServer(
        base=base,
        node=f"parseq-test-{secrets.token_hex(4)}@localhost",
        port=free_port(),
        dist_port=free_port(),
    )
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


@pytest.fixture(scope="session")
def rabbitmq():
    """A RabbitMQ node for the whole session (consumer_timeout = CONSUMER_TIMEOUT_MS)."""
    server = start_node()
    yield server
    server.destroy()
