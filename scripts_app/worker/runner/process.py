"""Spawn a script in its own process group and supervise it until it ends.

The supervisor reads the merged stdout/stderr in fixed-size chunks and writes at
most ``log_limit`` bytes to the log file, so the worker's memory stays flat
however much the script prints. Timeout and cancel signal the whole group:
SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scripts_app.worker.runner import bwrap, pool, zygote

logger = logging.getLogger(__name__)
CHUNK = 64 * 1024
TRUNCATION_MARKER = "\n[parseq] log truncated at {limit} bytes; further output was discarded\n"


@dataclass
class ProcessSpec:
    script: Path
    workdir: Path
    env: dict[str, str]
    timeout: float
    grace: float = 5.0
    log_limit: int = 10 * 1024 * 1024
    tick_seconds: float = 1.0
    # Fork the script from a pre-started, pre-imported interpreter (runner/forkserver.py)
    # instead of starting a new one: the same isolation, a much faster start. Workers
    # turn it on for all their runs (zygote.enable(), PARSEQ_FORK_SERVER).
    fork_server: bool = False
    # The Python that runs the script (a spawned one, or its fork server's).
    interpreter: str = sys.executable
    # A command the interpreter runs under. A wrapped run is always spawned.
    wrapper: tuple[str, ...] = ()
    # The run's sandbox (worker/sandboxing.py): its fork server runs under bwrap, or
    # the spawned run does; the script sees its workspace at confine.WORKSPACE.
    confine: bwrap.Confinement | None = None
    # The script user (uid, gid) a root worker's script runs as (PARSEQ_SCRIPT_USER).
    run_as: tuple[int, int] | None = None
    # What a new fork server of a script environment's interpreter keeps while it lives
    # (the environment's in-use lock, so the environment is not evicted under it).
    server_hold: Callable[[], object] | None = None
    # Written to the log before the script's output (the environment line).
    preamble: bytes = b""
    # What the process runs: ``python -m CHILD_MODULE SCRIPT`` when spawned, or a fork of
    # ``SERVER_MODULE``. Code jobs: the Django child and the Django fork server.
    child_module: str = "scripts_app.bootstrap"
    server_module: str = zygote.SERVER_MODULE


@dataclass
class ProcessOutcome:
    exit_code: int | None
    timed_out: bool = False
    stop_reason: str | None = None  # set when on_tick asked the run to stop
    log_bytes: int = 0
    log_truncated: bool = False
    discarded_bytes: int = 0
    pid: int | None = None
    # No process of the run can be left (the fork server proved it): its workspace may
    # be reused. Never claimed for spawned scripts.
    left_nothing: bool = False


class LogSink:
    """Writes output to a file up to a byte limit, then one marker, then nothing."""

    def __init__(self, handle: BinaryIO, limit: int, echo: Callable[[bytes], None] | None):
        self.handle = handle
        self.limit = limit
        self.echo = echo
        self.written = 0
        self.discarded = 0
        self.truncated = False

    def write(self, data: bytes) -> None:
        room = self.limit - self.written
        kept = data[: max(room, 0)]
        if kept:
            self.handle.write(kept)
            self.written += len(kept)
            if self.echo:
                self.echo(kept)
        if len(kept) < len(data):
            self.discarded += len(data) - len(kept)
            if not self.truncated:
                self.truncated = True
                marker = TRUNCATION_MARKER.format(limit=self.limit).encode()
                self.handle.write(marker)
                if self.echo:
                    self.echo(marker)
        self.handle.flush()


def kill_group(pgid: int, sig: int) -> bool:
    """Signal a whole process group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def group_alive(pgid: int) -> bool:
    return kill_group(pgid, 0)


class SpawnedScript:
    """A spawned script, reaped only after its group is killed.

    Its pid is its group's id (setsid); once reaped, the number is free and, with
    pids wrapping fast (pid_max may be 32768), a later kill of that group could hit
    another run. So its exit is noticed without reaping (``waitid(WNOWAIT)``), the
    group killed while the zombie still holds the number, and only then is it reaped —
    what the fork server does for forked scripts. ``group_gone``: nobody may signal
    the group after that.
    """

    POLL_SECONDS = 0.005

    def __init__(self, popen: subprocess.Popen, wrapped_signals: bool = False):
        self.popen = popen
        # Under bwrap a script killed by signal N is reported as exit code 128 + N (its
        # convention): read back as Popen's -N (an exit(128 + N) of its own reads the same).
        self.wrapped_signals = wrapped_signals
        self.pid = popen.pid
        self.stdout = popen.stdout
        self.returncode: int | None = None
        self.group_gone = False
        self.left_nothing = False  # unknowable for a spawned script: never vouched for

    def poll(self) -> int | None:
        if self.returncode is None and self._exited(block=False):
            kill_group(self.pid, signal.SIGKILL)
            code = self.popen.wait()
            if self.wrapped_signals and 128 < code < 128 + signal.NSIG:
                code = 128 - code
            self.returncode = code
            self.group_gone = True
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            self._exited(block=True)
        deadline = time.monotonic() + (timeout or 0)
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.popen.args, timeout)
            time.sleep(min(self.POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        return self.returncode

    def _exited(self, block: bool) -> bool:
        flags = os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)
        try:
            return os.waitid(os.P_PID, self.pid, flags) is not None
        except ChildProcessError:  # already reaped: Popen knows its code
            return True


def spawn(spec: ProcessSpec, lifeline_fd: int) -> SpawnedScript | zygote.ZygoteProcess:
    if not spec.wrapper and (spec.fork_server or zygote.enabled()):
        try:
            server = _server(spec)
            if server is not None and server.accepts(spec.env):
                return server.spawn(spec.script, spec.workdir, spec.env, lifeline_fd, _extra(spec))
        except Exception as exc:  # the fork server failed: start this run the classic way
            logger.warning("fork server unavailable (%r); spawning the script", exc)
    env = {**spec.env, "PARSEQ_LIFELINE_FD": str(lifeline_fd)}
    if spec.run_as:
        env["PARSEQ_RUN_AS"] = "{}:{}".format(*spec.run_as)
    wrapper, script, fds = list(spec.wrapper), str(spec.script), [lifeline_fd]
    if spec.confine is not None:
        # bwrap's options through a pipe (--args), not its command line: its init, the
        # run's pid 1, would show the workspace's host path in /proc/1/cmdline.
        options = bwrap.run_args(spec.confine, spec.interpreter)
        fds.append(_options_pipe(options[1:]))
        wrapper, script = [options[0], "--args", str(fds[-1])], spec.confine.view(script)
    try:
        popen = subprocess.Popen(
            [*wrapper, spec.interpreter, "-u", "-m", spec.child_module, script],
            cwd=spec.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and process group: pgid == pid
            pass_fds=fds,
            close_fds=True,
        )
    finally:
        for fd in fds[1:]:
            os.close(fd)
    return SpawnedScript(popen, wrapped_signals=spec.confine is not None)


def _options_pipe(options: list[str]) -> int:
    """A pipe's read end holding ``options`` NUL-separated (a few KiB: within its buffer)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"".join(option.encode() + b"\0" for option in options))
    finally:
        os.close(write_end)
    return read_end


def _server(spec: ProcessSpec) -> zygote.Zygote | None:
    wrapper = ()
    if spec.confine is not None:  # a sandboxed server (a key of its own)
        wrapper = bwrap.server_args(spec.confine.profile, spec.interpreter)
    return pool.server_for_run(
        spec.env, spec.interpreter, spec.server_hold, spec.server_module, wrapper
    )


def _extra(spec: ProcessSpec) -> dict:
    """The request's sandbox part: the child's namespaces, paths as the script sees
    them, the script user."""
    if spec.confine is not None:
        view = spec.confine.view
        return {
            "confine": spec.confine.request(spec.run_as, spec.interpreter),
            "script": view(str(spec.script)),
            "cwd": view(str(spec.workdir)),
        }
    return {"run_as": spec.run_as} if spec.run_as else {}


def run_process(
    spec: ProcessSpec,
    log_file: Path,
    *,
    on_start: Callable[[int], None] | None = None,
    on_tick: Callable[[], str | None] | None = None,
    echo: Callable[[bytes], None] | None = None,
) -> ProcessOutcome:
    """Run the script to completion; ``on_tick`` may return a reason to stop it."""
    lifeline_r, lifeline_w = os.pipe()
    try:
        proc = spawn(spec, lifeline_r)
    except BaseException:
        os.close(lifeline_w)
        raise
    finally:
        os.close(lifeline_r)
    try:
        if on_start:
            on_start(proc.pid)
        with log_file.open("wb") as handle:
            sink = LogSink(handle, spec.log_limit, echo)
            if spec.preamble:
                sink.write(spec.preamble)
            outcome = _supervise(proc, spec, sink, on_tick)
        outcome.log_bytes = sink.written
        outcome.log_truncated = sink.truncated
        outcome.discarded_bytes = sink.discarded
        outcome.pid = proc.pid
        outcome.left_nothing = proc.left_nothing
        return outcome
    finally:
        # Whatever happened, nothing of the run may outlive it (once the script has
        # exited, its group was killed before its number could be reused).
        if not proc.group_gone:
            kill_group(proc.pid, signal.SIGKILL)
        os.close(lifeline_w)
        if proc.stdout:
            proc.stdout.close()
        proc.wait()


def _supervise(proc, spec: ProcessSpec, sink: LogSink, on_tick) -> ProcessOutcome:
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + spec.timeout
    next_tick = time.monotonic() + spec.tick_seconds
    stop_reason: str | None = None
    timed_out = False
    kill_at: float | None = None
    eof = False
    try:
        while True:
            now = time.monotonic()
            if not eof:
                wait = max(0.0, min(next_tick, kill_at or deadline, deadline) - now)
                for _key, _ in selector.select(timeout=min(wait, 0.5)):
                    eof = _drain(fd, sink)
                    if eof:
                        selector.unregister(fd)
            elif proc.poll() is None:
                try:  # returns as soon as it exits (no fixed 50 ms nap per run)
                    proc.wait(timeout=min(0.05, max(0.0, next_tick - time.monotonic())))
                except subprocess.TimeoutExpired:
                    pass
            exited = proc.poll() is not None
            if exited and not eof:
                eof = _drain(fd, sink)  # what it wrote between the last read and its exit
            if exited and (eof or proc.group_gone or not group_alive(proc.pid)):
                break
            if exited and not eof:
                # The script is gone but a child of it still holds the pipe: end the run.
                kill_group(proc.pid, signal.SIGKILL)
                _drain(fd, sink)
                break
            now = time.monotonic()
            if kill_at is None and not timed_out and now >= deadline:
                timed_out = True
                kill_at = _terminate(proc.pid, spec.grace)
            if kill_at is not None and now >= kill_at:
                kill_group(proc.pid, signal.SIGKILL)
                kill_at = now + 3600  # SIGKILL sent; just wait for the exit now
            if now >= next_tick:
                next_tick = now + spec.tick_seconds
                if on_tick and stop_reason is None and kill_at is None:
                    stop_reason = on_tick()
                    if stop_reason:
                        kill_at = _terminate(proc.pid, spec.grace)
                elif on_tick and kill_at is not None:
                    on_tick()
    finally:
        selector.close()
    return ProcessOutcome(exit_code=proc.wait(), timed_out=timed_out, stop_reason=stop_reason)


def _terminate(pgid: int, grace: float) -> float:
    kill_group(pgid, signal.SIGTERM)
    return time.monotonic() + grace


def _drain(fd: int, sink: LogSink) -> bool:
    """Read what is available; True at end of file."""
    while True:
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return False
        if not data:
            return True
        sink.write(data)
