"""The worker's side of the fork servers (``forkserver.py``): one server per
``ServerKey`` in each worker process, started on first use and restarted if it dies,
asked for one forked script per run.

The key is what makes servers differ: the interpreter they run and the start-up
environment they are exec'd with. More kinds of fork server (an environment's own
interpreter, a Django server for code jobs, a sandboxed one) are more keys.
"""

from __future__ import annotations

# ``subprocess``, ``tempfile`` and ``threading`` are imported where they are used:
# ``threading`` and ``random`` install after-fork hooks (see forkserver.py), and the
# probe test loads this module beside the server's.
import _thread
import array
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scripts_app.worker.runner.forkserver import STARTUP_VARS, _remove

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

SERVER_MODULE = "scripts_app.worker.runner.forkserver"
BASE_VARS = ("PATH", "LANG", "LC_ALL", *STARTUP_VARS)


@dataclass(frozen=True)
class ServerKey:
    """Which fork server a run is forked from."""

    interpreter: str
    env: tuple[tuple[str, str], ...]  # the start-up variables (BASE_VARS) of the run

    @classmethod
    def for_run(cls, env: dict[str, str], interpreter: str = sys.executable) -> ServerKey:
        return cls(interpreter, tuple(sorted((n, env[n]) for n in BASE_VARS if n in env)))


class ZygoteProcess:
    """The part of ``subprocess.Popen`` the supervisor uses, for a forked script."""

    def __init__(self, pid: int, conn: socket.socket, stdout):
        self.pid = pid
        self.conn = conn
        self.stdout = stdout
        self.returncode: int | None = None
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

    def poll(self) -> int | None:
        self._read_exit(block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._read_exit(block=True, timeout=timeout)
        if self.returncode is None:
            import subprocess

            raise subprocess.TimeoutExpired(["zygote", str(self.pid)], timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """One fork server per worker process, started on first use and restarted if it dies."""

    def __init__(self, base_env: dict[str, str], interpreter: str = sys.executable):
        import threading

        self.base_env = base_env
        self.interpreter = interpreter
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.path = ""

    def accepts(self, env: dict[str, str]) -> bool:
        for name, value in env.items():
            if name.startswith("PYTHON") and self.base_env.get(name) != value:
                return False
        return all(env.get(name) == self.base_env.get(name) for name in STARTUP_VARS)

    def _ensure(self) -> str:
        import subprocess
        import tempfile

        with self.lock:
            if self.process is not None and self.process.poll() is None:
                return self.path
            folder = tempfile.mkdtemp(prefix="parseq-zygote-")
            self.path = os.path.join(folder, "sock")
            self.process = subprocess.Popen(
                [self.interpreter, "-u", "-m", SERVER_MODULE, self.path],
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
        return ZygoteProcess(int(answer.split()[1]), conn, os.fdopen(read_end, "rb", buffering=0))

    def stop(self) -> None:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            if self.path:
                _remove(self.path)
            self.process = None


_servers: dict[ServerKey, Zygote] = {}
_servers_lock = _thread.allocate_lock()  # threading.Lock(), without importing threading
_enabled = False


def enable(warm_env: dict[str, str] | None = None) -> None:
    """Use the fork server for every run in this process (a worker; see ForkServer
    middleware). One-shot processes such as ``manage.py <slug>`` do not enable it."""
    global _enabled
    _enabled = True
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


def enabled() -> bool:
    return _enabled


def for_env(env: dict[str, str], interpreter: str = sys.executable) -> Zygote:
    """The fork server for a run with this environment and interpreter."""
    return server_for(ServerKey.for_run(env, interpreter))


def server_for(key: ServerKey) -> Zygote:
    """The fork server of ``key`` in this process (one per key)."""
    with _servers_lock:
        if key not in _servers:
            _servers[key] = Zygote(dict(key.env), key.interpreter)
        return _servers[key]
