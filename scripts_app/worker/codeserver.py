"""The Django fork server: code jobs start in milliseconds, not a Django boot.

``python -m scripts_app.worker.codeserver SOCKET`` — exec'd by the worker (``zygote.py``,
``CODE_SERVER_MODULE``) with the worker's own environment, since code jobs are the
project's trusted code. It runs ``django.setup()`` (which imports every app's ``jobs``
module), imports the modules of the code and task jobs the database knows, then serves
exactly as the script fork server does (``runner/forkserver.py``: same protocol, process
groups, lifelines, subreaping), except that each child runs ``codechild.run_code``.

No database connection crosses a fork: the server closes every connection after its
start-up and again before each fork, so each child opens its own.
"""

from __future__ import annotations

import importlib
import sys

from scripts_app.worker import codechild  # imported here, once, not in each child
from scripts_app.worker.runner import forkserver


class DjangoForkServer(forkserver.Server):
    def __init__(self, path: str):
        import django

        django.setup()
        _import_entrypoints()
        codechild.log_to_stderr()
        _close_connections()
        super().__init__(path)

    def start(self, conn) -> None:
        _close_connections()  # never fork holding one (a no-op unless something opened it)
        super().start(conn)

    def run(self, request: dict) -> None:
        sys.exit(codechild.run_code())


def _close_connections() -> None:
    from django.db import connections

    connections.close_all()


def _import_entrypoints() -> None:
    """Import the modules of the database's code and task jobs (tasks are not in any
    ``jobs`` module), so their first run pays for no import. Best effort: a module that
    fails to import fails its runs, with its traceback, not the server."""
    from django.db import DatabaseError

    from scripts_app.models import Job, JobKind

    try:
        entrypoints = list(
            Job.objects.exclude(kind=JobKind.SCRIPT).values_list("entrypoint", flat=True)
        )
    except DatabaseError:
        return
    for module in sorted({entry.partition(":")[0] for entry in entrypoints if entry}):
        try:
            importlib.import_module(module)
        except Exception as exc:  # any error of the host's module: its runs will report it
            print(f"[parseq] code fork server: cannot import {module}: {exc!r}", file=sys.stderr)


if __name__ == "__main__":
    DjangoForkServer(sys.argv[1]).serve()
