"""The worker's side of the fork servers (``forkserver.py``): one registry of servers by
``ServerKey`` in each worker process, asked for one forked script per run.

The key is what makes servers differ: the interpreter they run and the start-up
environment they are exec'd with. A server of the worker's own interpreter is started on
first use and restarted if it dies (in practice one per worker process). Servers of a
script environment's interpreter (``environments/``) are a bounded pool (``pool.py``): at
most PARSEQ_ENV_FORK_SERVERS per worker process, the least recently used idle one
retired to make room and any idle for PARSEQ_ENV_FORK_SERVER_IDLE seconds retired; a
run whose environment has no warm server is spawned while one starts in the background
for the next run, and a busy server is never retired. More kinds of fork server (a
Django server for code jobs, a sandboxed one) are more keys.
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
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scripts_app.worker.runner.forkserver import STARTUP_VARS, _remove

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

SERVER_MODULE = "scripts_app.worker.runner.forkserver"
# The Django fork server of code jobs (Django set up, the jobs' modules imported): the
# worker's trusted code, exec'd with the worker's own environment (settings, database).
CODE_SERVER_MODULE = "scripts_app.worker.codeserver"
BASE_VARS = ("PATH", "LANG", "LC_ALL", *STARTUP_VARS)


@dataclass(frozen=True)
class ServerKey:
    """Which fork server a run is forked from."""

    interpreter: str
    env: tuple[tuple[str, str], ...]  # the start-up variables (BASE_VARS) of the run
    module: str = SERVER_MODULE  # the server's module (python -m MODULE SOCKET)
    wrapper: tuple[str, ...] = ()  # a sandboxed server's bwrap command (runner/bwrap.py)

    @classmethod
    def for_run(
        cls,
        env: dict[str, str],
        interpreter: str = sys.executable,
        module: str = SERVER_MODULE,
        wrapper: tuple = (),
    ) -> ServerKey:
        start = tuple(sorted((n, env[n]) for n in BASE_VARS if n in env))
        return cls(interpreter, start, module, tuple(wrapper))

    @property
    def inherits_environment(self) -> bool:
        """A server of trusted code starts from this worker's environment (its settings
        and database); a script server only from the start-up variables."""
        return self.module != SERVER_MODULE

    def server_env(self) -> dict[str, str]:
        return {**os.environ, **dict(self.env)} if self.inherits_environment else dict(self.env)

    @property
    def pooled(self) -> bool:
        """A script environment's interpreter: its servers are the bounded pool's."""
        return self.interpreter != sys.executable


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
            import subprocess

            raise subprocess.TimeoutExpired(["zygote", str(self.pid)], timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """One fork server, started on first use and restarted if it dies.

    ``hold``: what it keeps while it lives (an environment's in-use lock, so the
    environment is not evicted under it), closed when it stops.
    """

    def __init__(
        self,
        base_env: dict[str, str],
        interpreter: str = sys.executable,
        hold: Any = None,
        module: str = SERVER_MODULE,
        wrapper: tuple[str, ...] = (),
    ):
        import threading

        self.base_env = base_env
        self.interpreter = interpreter
        self.module = module
        self.wrapper = wrapper
        self.hold = hold
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.path = ""
        self.active = 0  # runs forked from it and not yet ended
        self.last_used = time.monotonic()
        self.starting = False  # being started in the background (the pool)
        self.retired = False

    def accepts(self, env: dict[str, str]) -> bool:
        for name, value in env.items():
            if name.startswith("PYTHON") and self.base_env.get(name) != value:
                return False
        return all(env.get(name) == self.base_env.get(name) for name in STARTUP_VARS)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _ensure(self) -> str:
        import subprocess
        import tempfile

        with self.lock:
            if self.running():
                return self.path
            if self.retired:  # retired before its background start got here
                raise OSError("the fork server was retired")
            folder = tempfile.mkdtemp(prefix="parseq-zygote-")
            self.path = os.path.join(folder, "sock")
            command = [self.interpreter, "-u", "-m", self.module, self.path]
            if self.wrapper:  # sandboxed: it sees its socket folder at SOCKET_DIR
                from scripts_app.worker.runner import bwrap, confine

                inside = os.path.join(confine.SOCKET_DIR, "sock")
                command = [*self.wrapper, *bwrap.socket_args(folder), *command[:-1], inside]
                command.append("--confined")
            process = subprocess.Popen(
                command,
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
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise OSError(f"the fork server {self.module} did not start")
                time.sleep(0.005)
            self.process = process  # running() from now on: it accepts runs
            return self.path

    def spawn(
        self,
        script: Path,
        workdir: Path,
        env: dict[str, str],
        lifeline_fd: int,
        extra: dict | None = None,
    ):
        with self.lock:  # counted before forking, so the pool never retires it under a run
            if self.retired:
                raise OSError("the fork server was retired")
            self.active += 1
        try:
            pid, conn, stdout = self._fork(script, workdir, env, lifeline_fd, extra or {})
        except BaseException:
            self._finished()
            raise
        return ZygoteProcess(pid, conn, stdout, self._finished)

    def _fork(self, script, workdir, env: dict[str, str], lifeline_fd: int, extra: dict):
        path = self._ensure()
        read_end, write_end = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The kernel stamps the child's "pid" answer with its pid as this process sees
        # it: a sandboxed server's children have other numbers in its PID namespace.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            conn.connect(path)
            request = {"script": str(script), "cwd": str(workdir), "env": env, **extra}
            fds = array.array("i", [write_end, lifeline_fd])
            message = [json.dumps(request).encode()]
            conn.sendmsg(message, [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            answer, sender = _answer(conn)
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
        pid = sender or int(answer.split()[1])
        return pid, conn, os.fdopen(read_end, "rb", buffering=0)

    def _finished(self) -> None:
        with self.lock:
            self.active -= 1
            self.last_used = time.monotonic()

    def retire_if_idle(self, idle_seconds: float = 0.0) -> bool:
        """Mark it retired (no run may start on it, and it never starts again) if no run
        is on it and none has ended for ``idle_seconds``; a server busy starting (its lock
        held) or forking (counted in ``active``) is not idle."""
        if self.active or not self.lock.acquire(blocking=False):
            return False
        try:
            if self.active or time.monotonic() - self.last_used < idle_seconds:
                return False
            self.retired = True
            return True
        finally:
            self.lock.release()

    def stop(self) -> None:
        """Stop the server (the next run restarts it, unless it was retired)."""
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            if self.path:
                _remove(self.path)
            self.process = None
            if self.hold is not None:
                self.hold.close()
                self.hold = None


UCRED = struct.Struct("3i")  # pid, uid, gid


def _answer(conn: socket.socket) -> tuple[bytes, int | None]:
    """The child's answer and its pid in this process's PID namespace (None if the
    kernel attached no credentials)."""
    data, ancdata, _flags, _addr = conn.recvmsg(64, socket.CMSG_SPACE(UCRED.size))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            return data, UCRED.unpack(payload[: UCRED.size])[0]
    return data, None


# The one registry of this process's fork servers, by key; the pool (pool.py) keeps its
# servers here too, under the same lock.
SERVERS: dict[ServerKey, Zygote] = {}
SERVERS_LOCK = _thread.allocate_lock()  # threading.Lock(), without importing threading
_enabled = False


def enable(warm_env: dict[str, str] | None = None, wrapper: tuple[str, ...] = ()) -> None:
    """Use fork servers for every run in this process (a worker; see ForkServer
    middleware). One-shot processes such as ``manage.py <slug>`` do not enable them."""
    global _enabled
    _enabled = True
    if warm_env is not None:
        server_for(ServerKey.for_run(warm_env, sys.executable, wrapper=wrapper))._ensure()


def disable() -> None:
    global _enabled
    _enabled = False
    with SERVERS_LOCK:
        servers = list(SERVERS.values())
        SERVERS.clear()
    for server in servers:
        server.stop()


def enabled() -> bool:
    return _enabled


def for_env(
    env: dict[str, str], interpreter: str = sys.executable, module: str = SERVER_MODULE
) -> Zygote:
    """The fork server for a run with this environment and interpreter."""
    return server_for(ServerKey.for_run(env, interpreter, module))


def server_for(key: ServerKey) -> Zygote:
    """The fork server of ``key`` in this process (one per key), started when used."""
    with SERVERS_LOCK:
        if key not in SERVERS:
            SERVERS[key] = Zygote(
                key.server_env(), key.interpreter, module=key.module, wrapper=key.wrapper
            )
        return SERVERS[key]
