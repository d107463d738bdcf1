"""The first code a script's process runs (``python -m scripts_app.bootstrap SCRIPT``).

It ties the process group's life to the worker, applies resource limits, then
runs the script: ``main(params)`` when the script defines one, else the file as
``__main__``. It reports the result and the error through files; the worker,
not this process, decides and writes the run's final status. No Django here.
"""

from __future__ import annotations

import ast
import ctypes
import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_worker() -> None:
    # Backstop: the kernel kills this process if the worker dies.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    fd = os.environ.get("PARSEQ_LIFELINE_FD")
    if fd is None:
        return

    # The worker holds the write end of this pipe. EOF means the worker is gone,
    # so take the whole process group (the script's children too) down with us.
    def watch() -> None:
        try:
            while os.read(int(fd), 1):
                pass
        except OSError:
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="parseq-lifeline", daemon=True).start()


def _apply_limits() -> None:
    import resource

    memory = os.environ.get("PARSEQ_LIMIT_MEMORY_BYTES")
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    cpu = os.environ.get("PARSEQ_LIMIT_CPU_SECONDS")
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))


def _defines_main(source: str) -> bool:
    tree = ast.parse(source)
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main"
        for node in tree.body
    )


def _write_json(env_name: str, payload: object) -> None:
    path = os.environ.get(env_name)
    if path:
        Path(path).write_text(json.dumps(payload), encoding="utf-8")


def _report_exception(exc: BaseException) -> None:
    # Show the script's frames only: the bootstrap's own are noise to its author.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    last_line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    _write_json("PARSEQ_ERROR_FILE", {"error": last_line})


def run(script: Path) -> int:
    source = script.read_text(encoding="utf-8")
    sys.argv = [str(script)]
    sys.path.insert(0, str(script.parent))
    code = compile(source, str(script), "exec")
    if not _defines_main(source):
        namespace = {"__name__": "__main__", "__file__": str(script), "__builtins__": __builtins__}
        exec(code, namespace)
        return 0
    namespace = {"__name__": "parseq_script", "__file__": str(script), "__builtins__": __builtins__}
    exec(code, namespace)
    from scripts_app import runtime

    result = namespace["main"](runtime.params())
    try:
        encoded = json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"main() returned a value that is not JSON-serialisable: {exc}") from None
    path = os.environ.get("PARSEQ_RESULT_FILE")
    if path:
        Path(path).write_text(encoded, encoding="utf-8")
    return 0


def main() -> None:
    from scripts_app import hardening

    hardening.drop_ptrace_capability()  # before any of the script's code runs
    _die_with_worker()
    _apply_limits()
    try:
        code = run(Path(sys.argv[1]))
    except SystemExit as exc:
        if isinstance(exc.code, str):
            # sys.exit("network unreachable: …"): that one line is the run's error.
            _write_json("PARSEQ_ERROR_FILE", {"error": exc.code})
        elif exc.code not in (None, 0):
            _write_json("PARSEQ_ERROR_FILE", {"error": f"SystemExit: {exc.code}"})
        raise
    except MemoryError as exc:
        _report_exception(exc)
        _write_json("PARSEQ_ERROR_FILE", {"error": "MemoryError: the memory limit was exceeded"})
        code = 1
    except BaseException as exc:  # the script's own failure, reported and turned into exit 1
        _report_exception(exc)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
