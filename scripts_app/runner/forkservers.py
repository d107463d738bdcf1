"""The worker's side of the fork servers (runner/zygote.py): starting, talking, pooling.

A fork server is keyed by a ``ServerKey``: the interpreter it runs and the start-up
environment its children inherit. Runs in the worker's own interpreter share one
server per key, started on first use (in practice one per worker process). Runs
in a script environment (scripts_app/environments/) get a server per environment:
at most PARSEQ_ENV_FORK_SERVERS per worker process, the least recently used idle one
retired to make room, and any left idle for PARSEQ_ENV_FORK_SERVER_IDLE seconds
retired. A run whose environment has no warm server is spawned as before while one
starts in the background for the next run; a busy server is never retired.
"""

from __future__ import annotations

import array
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts_app.runner import zygote

logger = logging.getLogger(__name__)

# Interpreter-level variables a server itself starts with; a run that sets any other
# PYTHON* variable (or a different value) is spawned, not forked.
STARTUP_VARS = zygote.STARTUP_VARS
BASE_VARS = ("PATH", "LANG", "LC_ALL", *STARTUP_VARS)


@dataclass(frozen=True)
class ServerKey:
    """What makes fork servers interchangeable: same interpreter, same start-up env.

    (The sandbox adds the command that wraps the interpreter here.)
    """

    interpreter: str
    startup_env: tuple[tuple[str, str], ...]

    @classmethod
    def for_run(cls, env: dict[str, str], interpreter: str | None = None) -> ServerKey:
        base = tuple(sorted((name, env[name]) for name in BASE_VARS if name in env))
        return cls(interpreter or sys.executable, base)

    @property
    def own_interpreter(self) -> bool:
        return self.interpreter == sys.executable

    def argv(self, path: str) -> list[str]:
        return [self.interpreter, "-u", "-m", zygote.__name__, path]


class ZygoteProcess:
    """The part of ``subprocess.Popen`` the supervisor uses, for a forked script."""

    def __init__(self, pid: int, conn: socket.socket, stdout, on_exit: Callable[[], None]):
        self.pid = pid
        self.conn = conn
        self.stdout = stdout
        self.returncode: int | None = None
        self.on_exit = on_exit
        # Set by the server's "exit" report: it has killed the script's group (so no one
        # may signal that number again) and, with "clean", found nothing of the run left.
        self.group_gone = False
        self.left_nothing = False

    def _read_exit(self, block: bool, timeout: float | None = None) -> None:
        if self.returncode is not None:
            return
        self.conn.settimeout(timeout if block else 0.0)
        try:
            message = self.conn.recv(64)
        except (BlockingIOError, TimeoutError, InterruptedError):
            return
        except OSError:
            message = b""
        if message.startswith(b"exit "):
            words = message.split()
            self.returncode = int(words[1])
            self.group_gone = True
            self.left_nothing = words[2:] == [b"clean"]
        else:  # the zygote died: report a kill (run_process then kills the group)
            self.returncode = -signal.SIGKILL
        self.conn.close()
        self.on_exit()

    def poll(self) -> int | None:
        self._read_exit(block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._read_exit(block=True, timeout=timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(["zygote", str(self.pid)], timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """One fork server, started on first use and restarted if it dies.

    ``hold``: what it keeps while it lives (an environment's in-use lock), closed when
    it stops.
    """

    def __init__(self, key: ServerKey | dict[str, str], hold: Any = None):
        if isinstance(key, dict):
            key = ServerKey.for_run(key)
        self.key = key
        self.base_env = dict(key.startup_env)
        self.hold = hold
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.path = ""
        self.active = 0
        self.last_used = time.monotonic()

    def accepts(self, env: dict[str, str]) -> bool:
        for name, value in env.items():
            if name.startswith("PYTHON") and self.base_env.get(name) != value:
                return False
        return all(env.get(name) == self.base_env.get(name) for name in STARTUP_VARS)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _ensure(self) -> str:
        with self.lock:
            if self.running():
                return self.path
            folder = tempfile.mkdtemp(prefix="parseq-zygote-")
            self.path = os.path.join(folder, "sock")
            self.process = subprocess.Popen(
                self.key.argv(self.path),
                env=self.base_env,
                cwd=folder,
                stdin=subprocess.PIPE,  # its lifeline: EOF when this process dies
                stdout=subprocess.DEVNULL,
                stderr=None,
                start_new_session=True,
                close_fds=True,
            )
            deadline = time.monotonic() + 30
            while not os.path.exists(self.path):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise OSError("the script fork server did not start")
                time.sleep(0.005)
            return self.path

    def spawn(self, script: Path, workdir: Path, env: dict[str, str], lifeline_fd: int):
        path = self._ensure()
        read_end, write_end = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.connect(path)
            request = json.dumps({"script": str(script), "cwd": str(workdir), "env": env})
            fds = array.array("i", [write_end, lifeline_fd])
            conn.sendmsg([request.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            answer = conn.recv(64)
        except OSError:
            conn.close()
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        if not answer.startswith(b"pid "):
            conn.close()
            os.close(read_end)
            raise OSError("the script fork server refused the run")
        with self.lock:
            self.active += 1
            self.last_used = time.monotonic()
        stdout = os.fdopen(read_end, "rb", buffering=0)
        return ZygoteProcess(int(answer.split()[1]), conn, stdout, self._finished)

    def _finished(self) -> None:
        with self.lock:
            self.active -= 1
            self.last_used = time.monotonic()

    def idle_for(self) -> float | None:
        """Seconds since its last run ended; None while a run is on it."""
        with self.lock:
            return None if self.active else time.monotonic() - self.last_used

    def stop(self) -> None:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            if self.path:
                zygote._remove(self.path)
            self.process = None
            if self.hold is not None:
                self.hold.close()
                self.hold = None


class EnvironmentServers:
    """Fork servers of script environments: bounded, least recently used first out."""

    def __init__(self, size: int = 4, idle_seconds: float = 600):
        self.size = size
        self.idle_seconds = idle_seconds
        self.lock = threading.Lock()
        self.servers: OrderedDict[ServerKey, Zygote] = OrderedDict()
        self.starting: set[ServerKey] = set()
        self.sweeper: threading.Thread | None = None
        self.stopping = threading.Event()

    def warm(self, key: ServerKey, hold: Callable[[], Any] | None) -> Zygote | None:
        """The running server for ``key``; None (and one starting for next time) if none."""
        retired = []
        with self.lock:
            server = self.servers.get(key)
            if server is not None:
                self.servers.move_to_end(key)
                if server.running():
                    return server
                if key in self.starting:
                    return None
            else:
                if self.size <= 0:
                    return None
                while len(self.servers) >= self.size:
                    victim = next(
                        (k for k, s in self.servers.items() if s.idle_for() is not None), None
                    )
                    if victim is None:
                        return None  # every server is busy: this run is spawned
                    retired.append(self.servers.pop(victim))
                server = self.servers[key] = Zygote(key, hold() if hold else None)
                self._start_sweeper()
            self.starting.add(key)  # new, or one that died: (re)start it for the next run
        for old in retired:
            old.stop()
        threading.Thread(target=self._start, args=(key, server), daemon=True).start()
        return None

    def _start(self, key: ServerKey, server: Zygote) -> None:
        try:
            server._ensure()
        except Exception as exc:  # its runs are spawned; forget it so a later run retries
            logger.warning("environment fork server did not start: %r", exc)
            self.retire(key)
        finally:
            with self.lock:
                self.starting.discard(key)

    def retire(self, key: ServerKey) -> None:
        with self.lock:
            server = self.servers.pop(key, None)
        if server is not None:
            server.stop()

    def retire_idle(self) -> int:
        with self.lock:
            old = [
                key
                for key, server in self.servers.items()
                if (idle := server.idle_for()) is not None and idle >= self.idle_seconds
            ]
        for key in old:
            self.retire(key)
        return len(old)

    def _start_sweeper(self) -> None:
        if self.sweeper is None or not self.sweeper.is_alive():
            self.stopping.clear()
            self.sweeper = threading.Thread(target=self._sweep, name="parseq-env-zygotes")
            self.sweeper.daemon = True
            self.sweeper.start()

    def _sweep(self) -> None:
        while not self.stopping.wait(min(60.0, self.idle_seconds / 2)):
            self.retire_idle()

    def clear(self) -> None:
        self.stopping.set()
        with self.lock:
            servers = list(self.servers.values())
            self.servers.clear()
        for server in servers:
            server.stop()


_servers: dict[ServerKey, Zygote] = {}
_servers_lock = threading.Lock()
ENVIRONMENTS = EnvironmentServers()
_enabled = False


def enable(warm_env: dict[str, str] | None = None, *, env_servers: int = 4, idle: float = 600):
    """Use fork servers for every run in this process (a worker; see ForkServer
    middleware). One-shot processes such as ``manage.py <slug>`` do not enable them."""
    global _enabled
    _enabled = True
    ENVIRONMENTS.size, ENVIRONMENTS.idle_seconds = env_servers, idle
    if warm_env is not None:
        for_env(warm_env)._ensure()


def disable() -> None:
    global _enabled
    _enabled = False
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.stop()
    ENVIRONMENTS.clear()


def enabled() -> bool:
    return _enabled


def for_env(env: dict[str, str]) -> Zygote:
    """The worker-interpreter server whose start-up environment matches this run's."""
    key = ServerKey.for_run(env)
    with _servers_lock:
        if key not in _servers:
            _servers[key] = Zygote(key)
        return _servers[key]


def server_for(
    env: dict[str, str], interpreter: str | None = None, hold: Callable[[], Any] | None = None
) -> Zygote | None:
    """The server to fork this run from, or None to spawn it."""
    if interpreter is None or interpreter == sys.executable:
        return for_env(env)
    return ENVIRONMENTS.warm(ServerKey.for_run(env, interpreter), hold)
