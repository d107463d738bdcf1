"""Resource limits of a run: memory, CPU time, log size, total output size.

Each job may set its own; unset fields take the PARSEQ_*_LIMIT settings, where
0 means unlimited. Memory and CPU are kernel rlimits applied in the script's
process (scripts_app/bootstrap.py); log and output size (artifacts and result
files) are watched by the worker every heartbeat and checked again when the
process ends. Exceeding any of them fails the run with an error that names the limit.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from scripts_app.files import storage_api
from scripts_app.models import Job
from scripts_app.worker.runner.process import ProcessOutcome
from scripts_app.worker.runner.workspace import Workspace

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    memory_mb: int | None
    cpu_seconds: int | None
    log_bytes: int
    output_bytes: int | None

    def process_env(self) -> dict[str, str]:
        """The variables bootstrap.py turns into RLIMIT_AS / RLIMIT_CPU."""
        env = {}
        if self.memory_mb:
            env["PARSEQ_LIMIT_MEMORY_BYTES"] = str(self.memory_mb * MB)
        if self.cpu_seconds:
            env["PARSEQ_LIMIT_CPU_SECONDS"] = str(self.cpu_seconds)
        return env

    @property
    def memory_message(self) -> str:
        return f"memory limit exceeded ({self.memory_mb} MB address space)"

    @property
    def cpu_message(self) -> str:
        return f"CPU time limit exceeded ({self.cpu_seconds} s)"

    @property
    def log_message(self) -> str:
        return f"log size limit exceeded ({self.log_bytes:,} bytes)"

    @property
    def output_message(self) -> str:
        return f"output size limit exceeded ({self.output_bytes:,} bytes)"


def for_job(job: Job) -> Limits:
    return Limits(
        memory_mb=job.memory_limit_mb or settings.PARSEQ_MEMORY_LIMIT_MB or None,
        cpu_seconds=job.cpu_time_limit or settings.PARSEQ_CPU_LIMIT_SECONDS or None,
        log_bytes=job.log_limit_bytes or settings.PARSEQ_LOG_LIMIT_BYTES,
        output_bytes=job.output_limit_bytes or settings.PARSEQ_OUTPUT_LIMIT_BYTES or None,
    )


def output_size(outputs: Path, stop_above: int | None = None) -> int:
    """Total bytes of the regular files under ``outputs`` (stops counting past ``stop_above``);
    ``outputs`` may be a single file."""
    if outputs.is_file():
        try:
            return outputs.stat().st_size
        except FileNotFoundError:  # the script removed it meanwhile
            return 0
    total = 0
    for root, _dirs, names in os.walk(outputs):
        for name in names:
            try:
                stat = os.lstat(os.path.join(root, name))
            except FileNotFoundError:  # the script removed it meanwhile
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += stat.st_size
            if stop_above is not None and total > stop_above:
                return total
    return total


def log_exceeded(ws: Workspace, limits: Limits) -> bool:
    # The runner writes a truncation marker past the limit, so a full log is longer than it.
    try:
        return ws.log_file.stat().st_size > limits.log_bytes
    except FileNotFoundError:
        return False


def output_folders(ws: Workspace) -> tuple[Path, Path]:
    """What counts towards the output limit: artifacts and result files alike."""
    return ws.outputs, storage_api.result_dir(ws.root)


def run_output_size(ws: Workspace, stop_above: int | None = None) -> int:
    total = 0
    # While the script runs, what it writes to its working directory counts too.
    for folder in (*output_folders(ws), *ws.working_dir_entries()):
        total += output_size(folder, None if stop_above is None else stop_above - total)
        if stop_above is not None and total > stop_above:
            break
    return total


def output_exceeded(ws: Workspace, limits: Limits) -> bool:
    if not limits.output_bytes:
        return False
    return run_output_size(ws, stop_above=limits.output_bytes) > limits.output_bytes


def breach_while_running(ws: Workspace, limits: Limits) -> str | None:
    """A reason to stop the run now, checked every heartbeat."""
    if log_exceeded(ws, limits):
        return limits.log_message
    if output_exceeded(ws, limits):
        return limits.output_message
    return None


def breach_after_exit(outcome: ProcessOutcome, ws: Workspace, limits: Limits) -> str | None:
    """The limit the finished process ran into, if any."""
    if outcome.stop_reason in (limits.log_message, limits.output_message):
        return outcome.stop_reason
    if limits.cpu_seconds and outcome.exit_code == -signal.SIGXCPU:
        return limits.cpu_message
    if limits.memory_mb and _reported_memory_error(ws):
        return limits.memory_message
    if outcome.log_truncated:
        return limits.log_message
    if output_exceeded(ws, limits):
        return limits.output_message
    return None


def _reported_memory_error(ws: Workspace) -> bool:
    try:
        reported = ws.read_json(ws.error_file)
    except ValueError:
        return False
    return isinstance(reported, dict) and str(reported.get("error", "")).startswith("MemoryError")


def discard_outputs(ws: Workspace) -> None:
    """Drop the files of a run over its output limit: they are not uploaded."""
    for folder in output_folders(ws):
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
