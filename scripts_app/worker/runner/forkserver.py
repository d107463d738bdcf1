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
- the worker's lifeline pipe, so its whole group dies with the worker;
- rlimits applied by the bootstrap in the child, as before.

The worker talks to it over ``SOCK_SEQPACKET``: one connection per run; the child
answers ``pid N`` once it has the request and the zygote ``exit CODE`` (Popen's
returncode convention) when the child ends. The zygote exits when the worker
closes its stdin (the worker died) — its children have their own lifelines.

Runs whose environment changes how the interpreter starts (``PYTHON*``
variables other than the standard ones) are spawned the classic way.

This module is the server (``python -m scripts_app.worker.runner.forkserver SOCKET``);
the worker's side — starting servers, one per ``ServerKey``, and asking them for
runs — is ``zygote.py``. It must import in a script environment's interpreter as well
(``environments/overlay.py`` copies it there, with the bootstrap): standard library and
the script-side modules only.
"""

from __future__ import annotations

# Only what the server needs: ``threading`` and ``random`` install after-fork hooks
# that would cost every forked script ~0.5 ms of CPU, so neither may be imported here.
import array
import gc
import json
import os
import select
import signal
import socket
import sys

import scripts_app.worker.runner.confine as confine
from scripts_app import bootstrap, hardening

MAX_REQUEST = 4 * 1024 * 1024
PR_SET_CHILD_SUBREAPER = 36
SERVER_LIFELINE_FD = 0  # the zygote's stdin: a pipe from the worker
CHILD_LIFELINE_FD = 3
# Interpreter-level variables the zygote itself starts with; a run that sets any
# other PYTHON* variable (or a different value) is spawned, not forked.
STARTUP_VARS = ("PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")


# A forked child pays for every page of the server's memory it writes to (copy on
# write; CPython writes to every object it touches, if only its reference count), so
# the server does once what each child would otherwise do, and the child does as
# little as it can.


class Server:
    """The fork server: serves until the worker (its stdin) goes away."""

    def __init__(self, path: str, confined: bool = False):
        import atexit  # noqa: F401  (for the children's exit)

        from scripts_app import runtime  # noqa: F401  (for the children)

        # Sandboxed (started under bwrap), each child still needs CAP_SYS_ADMIN for its
        # own namespaces and mounts, and gives it up itself (confine.py) before the
        # script runs; otherwise once here, for good: the children inherit that.
        if not confined:
            hardening.drop_proc_reading_capabilities()
        # Every orphaned descendant of a run becomes this server's child (not init's), so
        # "no child of this server but the running scripts" proves a run left nothing.
        self.adopts = hardening.prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.children_file = f"/proc/self/task/{os.getpid()}/children"
        self.path = path
        self.environ = dict(os.environ)  # what every child starts from
        self.devnull = os.open(os.devnull, os.O_RDONLY)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path + ".new")
        self.listener.listen(64)
        # Children are watched through pidfds (Linux 5.3+: fail now if there are none),
        # not SIGCHLD: no signal handler here, so none for a child to undo.
        os.close(os.pidfd_open(os.getpid()))
        self.poller = select.epoll()
        self.poller.register(self.listener.fileno(), select.EPOLLIN)
        self.poller.register(SERVER_LIFELINE_FD, select.EPOLLIN)
        self.running: dict[int, tuple[int, socket.socket]] = {}  # pidfd: (pid, connection)

    def serve(self) -> None:
        # Everything made so far lives as long as the server: keep the collector off
        # it, so a child that collects neither scans nor copies those pages.
        gc.freeze()
        os.rename(self.path + ".new", self.path)  # appears only once it accepts connections
        listener = self.listener.fileno()
        while True:
            for fd, _events in self.poller.poll():
                if fd == listener:
                    self.start(self.listener.accept()[0])
                elif fd == SERVER_LIFELINE_FD:
                    if not os.read(fd, 4096):  # the worker is gone
                        _remove(self.path)
                        os._exit(0)
                else:
                    self.finish(fd)

    # Every page the server writes to after a fork costs it a page fault (and a copy,
    # while the child lives), so it forks at once and leaves reading and checking the
    # request to the child.
    def start(self, conn: socket.socket) -> None:
        try:
            pid = os.fork()
        except OSError:  # no answer: the worker spawns this run itself
            conn.close()
            return
        if pid == 0:  # the child: never returns
            try:
                self.become_script(conn)
            except BaseException:  # the child could not become the script: say why, in its log
                import traceback

                os.write(2, f"[parseq] fork server: {traceback.format_exc()}".encode())
            finally:
                os._exit(70)
        pidfd = os.pidfd_open(pid)
        self.poller.register(pidfd, select.EPOLLIN)
        self.running[pidfd] = (pid, conn)

    def finish(self, pidfd: int) -> None:
        """The script has exited: kill what is left of its group, reap it, report."""
        pid, conn = self.running.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        # Killed while the script is an unreaped zombie, its group id cannot have been
        # reused (pids wrap quickly: pid_max may be 32768): a kill after the reap could
        # hit another run's new group. The worker sends none after "exit".
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        clean = b" clean" if self.left_nothing() else b""
        try:
            conn.send(b"exit %d%s" % (os.waitstatus_to_exitcode(status), clean))
        except OSError:
            pass
        conn.close()

    def left_nothing(self) -> bool:
        """True if no process but the running scripts is a child of this server.

        Any process a finished run left behind — in its group or escaped from it with
        setsid, however deep — has lost an ancestor, so it is (or descends from) an
        orphan this subreaper adopted. Those that have died are reaped here. False when
        it cannot be known: its workspace is then not reused.
        """
        if not self.adopts:
            return False
        try:
            with open(self.children_file) as handle:
                children = {int(pid) for pid in handle.read().split()}
        except (OSError, ValueError):
            return False
        left = children - {pid for pid, _ in self.running.values()}
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    left.discard(pid)
            except ChildProcessError:
                left.discard(pid)
        return not left

    def become_script(self, conn: socket.socket) -> None:
        received = _receive(conn)
        if received is None:  # not a request: no "pid" (so refused), and exit 70
            return
        request, output_fd, lifeline_fd = received
        os.setsid()  # own session and process group: pgid == pid
        conn.send(b"pid %d" % os.getpid())
        os.dup2(self.devnull, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.dup2(lifeline_fd, CHILD_LIFELINE_FD)
        # Closes the server's sockets too. Their Python objects are never finalised
        # (and so never close a number the script has reused): the server's frames stay
        # on this process's stack until os._exit.
        os.closerange(CHILD_LIFELINE_FD + 1, 1 << 16)
        # No PR_SET_PDEATHSIG: were this server to die, the worker would see the run's
        # connection close and kill the script's group itself (see run_process).
        bootstrap.die_with_worker(CHILD_LIFELINE_FD)
        if "confine" in request:  # returns in the script's process, in its namespaces
            confine.enter(request["confine"])
        elif request.get("run_as"):  # not sandboxed, as root: the script user
            hardening.prctl(confine.PR_SET_NO_NEW_PRIVS, 1)
            hardening.drop_to_user(*request["run_as"])
        os.chdir(request["cwd"])
        env = request["env"]
        env["PARSEQ_LIFELINE_FD"] = str(CHILD_LIFELINE_FD)
        for name in self.environ.keys() - env.keys():
            del os.environ[name]
        for name, value in env.items():
            if self.environ.get(name) != value:
                os.environ[name] = value
        sys.path[0] = os.getcwd()
        _renew_stdio()
        code = 0
        try:
            self.run(request)
        except SystemExit as exc:
            code = _exit_code(exc.code)
        except BaseException:  # bootstrap reports the script's own errors; a last resort
            import traceback

            traceback.print_exc()
            code = 1
        try:  # what a normal interpreter exit does: join threads, run atexit, flush
            threading = sys.modules.get("threading")
            if threading is not None:
                threading._shutdown()
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

    def run(self, request: dict) -> None:
        """What the child runs once it is the script's process; ends with SystemExit.
        (The Django fork server of code jobs runs their code instead.)"""
        bootstrap.run_script(request["script"])


def _renew_stdio() -> None:
    """sys.stdin/stdout/stderr as the script's own interpreter would make them.

    The server's were made at its start-up with the same flags (-u) and locale (see
    Zygote.accepts), but for what fds 0-2 were then: a stream caches whether its file
    is seekable, and the script's are /dev/null and a pipe. Same classes, encodings,
    error handlers, buffering and names, made for the fds as they are now.
    """
    import io

    for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
        old = getattr(sys, name)
        raw = io.FileIO(fd, mode, closefd=False)
        raw.name = f"<{name}>"
        buffer = raw if isinstance(old.buffer, io.FileIO) else type(old.buffer)(raw)
        stream = io.TextIOWrapper(
            buffer,
            encoding=old.encoding,
            errors=old.errors,
            line_buffering=old.line_buffering,
            write_through=old.write_through,
        )
        stream.mode = old.mode
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _receive(conn: socket.socket) -> tuple[dict, int, int] | None:
    """The request (JSON) and its two descriptors (output, lifeline), or None."""
    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(2 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if len(fds) != 2 or not data:
        return None
    return json.loads(data), fds[0], fds[1]


def _remove(path: str) -> None:
    for name in (path, path + ".new"):
        try:
            os.unlink(name)
        except OSError:
            pass
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    Server(sys.argv[1], confined="--confined" in sys.argv[2:]).serve()
