"""Judging a finished script: its final status from what the process did and what it
left behind. The supervisor, never the script, decides it."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from scripts_app.models import Execution, Status
from scripts_app.worker.runner.process import ProcessOutcome
from scripts_app.worker.runner.workspace import Workspace


@dataclass
class Verdict:
    status: Status
    error: str = ""
    result: Any = None
    exit_code: int | None = None


def worker_error(exc: BaseException) -> str:
    return f"worker error: {type(exc).__name__}: {exc}"[:300]


NUL_IN_RESULT = "the result contains a NUL character (\\u0000), which cannot be stored"


def judge(outcome: ProcessOutcome, ws: Workspace, execution: Execution) -> Verdict:
    """The run's final status from what the process did and what it left behind."""
    code = outcome.exit_code
    if outcome.stop_reason == "cancelled":
        return Verdict(Status.CANCELLED, "cancelled by request", exit_code=code)
    if outcome.stop_reason:
        return Verdict(Status.FAILED, outcome.stop_reason, exit_code=code)
    if outcome.timed_out:
        timeout = execution.job.timeout or settings.PARSEQ_DEFAULT_TIMEOUT
        return Verdict(Status.TIMED_OUT, f"timed out after {timeout} s", exit_code=code)
    if code == 0:
        try:
            result = ws.read_json(ws.result_file)
        except ValueError:
            return Verdict(Status.FAILED, "the result file is not valid JSON", exit_code=code)
        if "\\u0000" in json.dumps(result):  # PostgreSQL's jsonb cannot hold a NUL
            return Verdict(Status.FAILED, NUL_IN_RESULT, exit_code=code)
        return Verdict(Status.SUCCEEDED, result=result, exit_code=code)
    return Verdict(Status.FAILED, failure_message(code, ws, execution), exit_code=code)


def failure_message(code: int | None, ws: Workspace, execution: Execution) -> str:
    try:
        reported = ws.read_json(ws.error_file)
    except ValueError:
        reported = None
    if isinstance(reported, dict) and reported.get("error"):
        return str(reported["error"])
    if code is not None and code < 0:  # limits.breach_after_exit names a CPU limit it hit
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:  # a real-time signal has no name
            return f"killed by signal {-code}"
    return f"exit code {code}"
