"""The first code a script's process runs (``python -m scripts_app.bootstrap SCRIPT``).

It ties the process group's life to the worker, applies resource limits, then
runs the script: ``main(params)`` when the script defines one (its ``None`` becomes ``{}``),
else the file as ``__main__``. It reports the result and the error through files; the worker,
not this process, decides and writes the run's final status. No Django here.

The fork server (worker/runner/forkserver.py) imports this module once and calls
``run_script`` in each forked child, so keep the work done per run small.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import select
import signal
import sys
import traceback
from types import CodeType

from scripts_app import hardening

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CO_NEWLOCALS = 2  # set on a function's code, not on a class body's


def die_with_worker(lifeline_fd: int) -> None:
    """Tie this process group's life to the worker's: SIGKILL when the worker goes."""
    # The worker holds the only write end of this pipe and nothing is ever written to
    # it. When the worker goes, however it dies, the kernel signals the read end's
    # "async owner": make that owner this process group and the signal SIGKILL, and the
    # whole group (the script's children too) dies with the worker, with no watcher
    # thread in the script's process.
    fcntl.fcntl(lifeline_fd, fcntl.F_SETOWN, -os.getpgrp())
    fcntl.fcntl(lifeline_fd, fcntl.F_SETSIG, signal.SIGKILL)
    flags = fcntl.fcntl(lifeline_fd, fcntl.F_GETFL)
    fcntl.fcntl(lifeline_fd, fcntl.F_SETFL, flags | os.O_ASYNC)
    # A worker that died before the line above sent no signal: readable means EOF.
    if select.select([lifeline_fd], [], [], 0)[0]:
        os.killpg(0, signal.SIGKILL)


def _apply_limits() -> None:
    memory = os.environ.get("PARSEQ_LIMIT_MEMORY_BYTES")
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    cpu = os.environ.get("PARSEQ_LIMIT_CPU_SECONDS")
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))


def _defines_main(code: CodeType, source: str) -> bool:
    """Whether the script has a top-level ``def main`` (or ``async def main``).

    The same answer as looking for one in ``ast.parse(source).body``, without building
    that tree: each function the module's own code defines is a code object among its
    constants, and it is at the top level when its first line (the ``def``, or its
    first decorator) is not indented, as a def inside an ``if``, ``try``, ``with``…
    block always is.
    """
    lines = None
    for const in code.co_consts:
        if (
            isinstance(const, CodeType)
            and const.co_name == "main"
            and const.co_flags & CO_NEWLOCALS
        ):
            if lines is None:  # numbered as the compiler did: \r\n, \r and \n end lines
                lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if not _indented(lines[const.co_firstlineno - 1]):
                return True
    return False


def _indented(line: str) -> bool:
    # As Python's tokenizer counts it: a form feed resets the indentation to zero.
    return line[: len(line) - len(line.lstrip(" \t\f"))].rsplit("\f", 1)[-1] != ""


def _write(env_name: str, text: str) -> None:
    path = os.environ.get(env_name)
    if path:
        with open(path, "wb") as handle:
            handle.write(text.encode())


def _report_exception(exc: BaseException) -> None:
    # Show the script's frames only: the bootstrap's own are noise to its author.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    last_line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    _write("PARSEQ_ERROR_FILE", json.dumps({"error": last_line}))


def run(script: str) -> int:
    with open(script, "rb", buffering=0) as handle:
        source = handle.read().decode()
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script) or ".")
    code = compile(source, script, "exec")
    if not _defines_main(code, source):
        namespace = {"__name__": "__main__", "__file__": script, "__builtins__": __builtins__}
        exec(code, namespace)
        return 0
    namespace = {"__name__": "parseq_script", "__file__": script, "__builtins__": __builtins__}
    exec(code, namespace)
    from scripts_app import runtime

    result = namespace["main"](runtime.params())
    if result is None:  # seed 003: "a dict (or None, which becomes an empty {})"
        result = {}
    try:
        encoded = json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"main() returned a value that is not JSON-serialisable: {exc}") from None
    _write("PARSEQ_RESULT_FILE", encoded)
    return 0


def run_script(script: str) -> None:
    """Apply the limits and run the script; ends with SystemExit(exit code)."""
    _apply_limits()
    try:
        code = run(script)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            # sys.exit("network unreachable: …"): that one line is the run's error.
            _write("PARSEQ_ERROR_FILE", json.dumps({"error": exc.code}))
        elif exc.code not in (None, 0):
            _write("PARSEQ_ERROR_FILE", json.dumps({"error": f"SystemExit: {exc.code}"}))
        raise
    except MemoryError as exc:
        _report_exception(exc)
        error = {"error": "MemoryError: the memory limit was exceeded"}
        _write("PARSEQ_ERROR_FILE", json.dumps(error))
        code = 1
    except BaseException as exc:  # the script's own failure, reported and turned into exit 1
        _report_exception(exc)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def main() -> None:
    hardening.drop_proc_reading_capabilities()  # before any of the script's code runs
    run_as = os.environ.pop("PARSEQ_RUN_AS", "")  # "uid:gid": the script user (as root)
    if run_as:
        hardening.prctl(PR_SET_NO_NEW_PRIVS, 1)
        hardening.drop_to_user(*(int(n) for n in run_as.split(":")))
        # Its workspace is the script user's alone (0700): entered as that user (a
        # sandbox's bwrap, holding no CAP_DAC_OVERRIDE, could not).
        os.chdir(os.path.dirname(os.path.abspath(sys.argv[1])))
    # Backstop: the kernel kills this process if its parent, the worker, dies.
    hardening.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    lifeline = os.environ.get("PARSEQ_LIFELINE_FD")
    if lifeline:
        die_with_worker(int(lifeline))
    run_script(sys.argv[1])


if __name__ == "__main__":
    main()
