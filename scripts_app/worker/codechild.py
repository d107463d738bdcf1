"""A code job's process: the host project's Django, its code called, its result as JSON.

Forked from the Django fork server (``codeserver.py``), which has Django set up and the
jobs' modules imported, or — when that server is unavailable — spawned as
``python -m scripts_app.worker.codechild`` (a Django boot per run). Either way it runs
under the same supervisor as a script (own process group, lifeline, limits, heartbeat,
timeout and cancel): only what runs inside differs. Trusted code: not sandboxed, and it
sees the worker's settings and database. The worker, not this process, writes the final
status; this process reports through the run's files, as ``bootstrap`` does for scripts.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback

from django.db import connections

from scripts_app import bootstrap, hardening, runtime
from scripts_app.code import invoke

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
ERROR_LIMIT = 1900  # Execution.error keeps 2000 characters: the traceback's end fits
_OWN_FILES = (os.path.join("worker", "codechild.py"), os.path.join("code", "invoke.py"))


def run_code() -> int:
    """Call the run's entrypoint (Django is set up); the process's exit code."""
    bootstrap._apply_limits()
    log_to_stderr()
    try:
        context = {"run_id": runtime.run_id(), "job": runtime.job_slug()}
        kind, entrypoint = os.environ["PARSEQ_JOB_KIND"], os.environ["PARSEQ_ENTRYPOINT"]
        encoded = invoke.encode_result(
            invoke.call(kind, entrypoint, runtime.params(), context), kind
        )
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _write("PARSEQ_ERROR_FILE", {"error": str(exc.code)})
        raise
    except BaseException as exc:  # the job's own failure: its traceback, and exit 1
        _report(exc)
        return 1
    finally:
        connections.close_all()  # the database sees this run's session end now
    with open(os.environ["PARSEQ_RESULT_FILE"], "w", encoding="utf-8") as handle:
        handle.write(encoded)
    return 0


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes: the same handler serves
    every child of the fork server, each with its own stderr (the run's log pipe)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def log_to_stderr() -> None:
    """The job's ``logging`` records (INFO and up) into the run's log, one line each. The
    fork server calls it once before forking, so a forked child has nothing to set up."""
    root = logging.getLogger()
    if any(isinstance(handler, StderrHandler) for handler in root.handlers):
        return
    for handler in list(root.handlers):  # the host's own: its output is the run log now
        root.removeHandler(handler)
    root.addHandler(StderrHandler())
    root.setLevel(logging.INFO)


def _report(exc: BaseException) -> None:
    """The traceback, without Parseq's own frames, into the log and the run's error."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.endswith(_OWN_FILES):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    sys.stderr.write(text)
    sys.stderr.flush()
    if len(text) > ERROR_LIMIT:
        text = "…" + text[-ERROR_LIMIT:]
    _write("PARSEQ_ERROR_FILE", {"error": text.rstrip()})


def _write(env_name: str, value: dict) -> None:
    path = os.environ.get(env_name)
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(value, handle)


def main() -> None:
    """Spawned (no fork server): tie the group to the worker, boot Django, run."""
    hardening.drop_proc_reading_capabilities()
    hardening.prctl(bootstrap.PR_SET_PDEATHSIG, signal.SIGKILL)
    lifeline = os.environ.get("PARSEQ_LIFELINE_FD")
    if lifeline:
        bootstrap.die_with_worker(int(lifeline))
    import django

    django.setup()
    code = run_code()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
