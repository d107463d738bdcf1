"""A fork server ("zygote") that starts scripts in milliseconds instead of ~50 ms.

Starting a Python interpreter and importing the bootstrap costs tens of
milliseconds per run. The zygote is one interpreter per worker process, started
with a *clean* environment (no server secrets: it is exec'd, not forked from the
worker) that has already imported the bootstrap; for each run it forks a child
that becomes exactly what ``python -m scripts_app.bootstrap SCRIPT`` would be:

- its own session and process group (``setsid``), so timeouts and cancels still
  signal the whole group;
- the run's clean environment, working directory, stdin from /dev/null and
  stdout+stderr into the worker's log pipe (file descriptors passed over a Unix
  socket with SCM_RIGHTS);
- the worker's lifeline pipe (and PDEATHSIG), so it dies with the worker;
- rlimits applied by the bootstrap in the child, as before.

The worker talks to it over ``SOCK_SEQPACKET``: one connection per run; the
zygote answers ``pid N`` at once and ``exit CODE`` (Popen's returncode
convention) when the child ends. The zygote exits when the worker closes its
stdin (the worker died) — its children have their own lifelines.

Runs whose environment changes how the interpreter starts (``PYTHON*``
variables other than the standard ones) are spawned the classic way.
"""

from __future__ import annotations

import array
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MAX_REQUEST = 4 * 1024 * 1024
CHILD_LIFELINE_FD = 3
# Interpreter-level variables the zygote itself starts with; a run that sets any
# other PYTHON* variable (or a different value) is spawned, not forked.
STARTUP_VARS = ("PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")


# --- server side (python -m scripts_app.runner.zygote SOCKET) ----------------------


def serve(path: str) -> None:
    from scripts_app import bootstrap, runtime  # noqa: F401  (pre-import for the children)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".new")
    listener.listen(64)
    os.rename(path + ".new", path)  # appears only once it accepts connections
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "lifeline")
    waiting: dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select():
            if key.data == "lifeline":
                if not os.read(sys.stdin.fileno(), 4096):  # the worker is gone
                    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
                    os._exit(0)
            elif key.data == "child":
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                _reap(waiting)
            else:
                conn, _ = listener.accept()
                pid = _start(conn, listener, selector, waiting)
                if pid:
                    waiting[pid] = conn
        _reap(waiting)


def _reap(waiting: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            try:
                conn.send(f"exit {os.waitstatus_to_exitcode(status)}".encode())
            except OSError:
                pass
            conn.close()


def _start(conn: socket.socket, listener, selector, waiting) -> int | None:
    fds = array.array("i")
    try:
        data, ancdata, _flags, _addr = conn.recvmsg(
            MAX_REQUEST, socket.CMSG_SPACE(2 * fds.itemsize)
        )
    except OSError:
        conn.close()
        return None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if len(fds) != 2 or not data:
        for fd in fds:
            os.close(fd)
        conn.close()
        return None
    request = json.loads(data)
    output_fd, lifeline_fd = fds
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            selector.close()
            listener.close()
            conn.close()
            for other in waiting.values():
                other.close()
            _become_script(request, output_fd, lifeline_fd)
        except BaseException:  # the child could not become the script: say why, in its log
            import traceback

            os.write(2, f"[parseq] fork server: {traceback.format_exc()}".encode())
        finally:
            os._exit(70)
    os.close(output_fd)
    os.close(lifeline_fd)
    try:
        conn.send(f"pid {pid}".encode())
    except OSError:
        pass
    return pid


def _become_script(request: dict, output_fd: int, lifeline_fd: int) -> None:
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()  # own session and process group: pgid == pid
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.dup2(lifeline_fd, CHILD_LIFELINE_FD)
    os.closerange(CHILD_LIFELINE_FD + 1, 1 << 16)
    os.set_inheritable(CHILD_LIFELINE_FD, True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["PARSEQ_LIFELINE_FD"] = str(CHILD_LIFELINE_FD)
    sys.path[0] = os.getcwd()
    sys.argv = ["-m", request["script"]]
    # Like ``python -u``: unbuffered binary layer, line-through text.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = _unbuffered_text(1)
    sys.stderr = _unbuffered_text(2)
    from scripts_app import bootstrap

    sys.argv = [sys.argv[0], request["script"]]
    code = 0
    try:
        bootstrap.main()
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # bootstrap reports the script's own errors; this is a last resort
        import traceback

        traceback.print_exc()
        code = 1
    try:  # what a normal interpreter exit does: join threads, run atexit, flush
        threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _unbuffered_text(fd: int):
    """A text stream on ``fd`` that writes through at once, as under ``python -u``."""
    import io

    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        raw, encoding="utf-8", errors="backslashreplace", line_buffering=True, write_through=True
    )


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


# --- client side (in the worker) -------------------------------------------------


class ZygoteProcess:
    """The part of ``subprocess.Popen`` the supervisor uses, for a forked script."""

    def __init__(self, pid: int, conn: socket.socket, stdout):
        self.pid = pid
        self.conn = conn
        self.stdout = stdout
        self.returncode: int | None = None

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
            self.returncode = int(message.split()[1])
        else:  # the zygote died; PDEATHSIG has killed the child
            self.returncode = -signal.SIGKILL
        self.conn.close()

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
    """One fork server per worker process, started on first use and restarted if it dies."""

    def __init__(self, base_env: dict[str, str]):
        self.base_env = base_env
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.path = ""

    def accepts(self, env: dict[str, str]) -> bool:
        for name, value in env.items():
            if name.startswith("PYTHON") and self.base_env.get(name) != value:
                return False
        return all(env.get(name) == self.base_env.get(name) for name in STARTUP_VARS)

    def _ensure(self) -> str:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                return self.path
            folder = tempfile.mkdtemp(prefix="parseq-zygote-")
            self.path = os.path.join(folder, "sock")
            self.process = subprocess.Popen(
                [sys.executable, "-u", "-m", "scripts_app.runner.zygote", self.path],
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
                shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)
            self.process = None


_servers: dict[tuple, Zygote] = {}
_servers_lock = threading.Lock()
_enabled = False
BASE_VARS = ("PATH", "LANG", "LC_ALL", *STARTUP_VARS)


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


def for_env(env: dict[str, str]) -> Zygote:
    """The fork server whose start-up environment matches this run's (one per combination)."""
    base = {name: env[name] for name in BASE_VARS if name in env}
    key = tuple(sorted(base.items()))
    with _servers_lock:
        if key not in _servers:
            _servers[key] = Zygote(base)
        return _servers[key]


if __name__ == "__main__":
    serve(sys.argv[1])
