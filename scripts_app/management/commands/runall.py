"""Web, worker and scheduler in one command, each its own process (``make run``).

The web process never runs scripts or the scheduler (invariant 7): this command
only supervises three child processes and stops them all on Ctrl-C or when
one of them dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from scripts_app import hardening

PR_SET_CHILD_SUBREAPER = 36


class Command(BaseCommand):
    help = "Serve web + worker + scheduler (embedded defaults) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--threads", type=int, default=4, help="Worker threads (parallel runs)."
        )

    def commands(self, host: str, port: str, threads: int) -> dict[str, list[str]]:
        manage = [sys.executable, sys.argv[0]]
        return {
            "web": [*manage, "runserver", f"{host}:{port}", "--noreload", "--skip-checks"],
            "worker": [*manage, "rundramatiq", "--processes", "1", "--threads", str(threads)],
            "scheduler": [*manage, "runscheduler"],
        }

    def handle(self, *args, port: str, host: str, threads: int, **options):
        # Orphans of the children (a sandboxed fork server's bwrap whose parent a lifeline
        # kill took first) become ours to reap, not init's: some inits never reap them.
        hardening.prctl(PR_SET_CHILD_SUBREAPER, 1)
        children = {
            name: subprocess.Popen(argv)
            for name, argv in self.commands(host, port, threads).items()
        }
        self.stdout.write(f"Parseq is up: http://{host}:{port}/admin/  (Ctrl-C stops everything)")
        stop = {"signal": None}

        def on_signal(signum, frame):
            stop["signal"] = signum

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        failed = None
        while stop["signal"] is None and failed is None:
            time.sleep(0.3)
            failed = next((n for n, p in children.items() if p.poll() is not None), None)
        if failed:
            self.stderr.write(
                f"{failed} exited with {children[failed].returncode}; stopping the rest"
            )
        self.shutdown(children)
        if failed:
            sys.exit(1)

    def shutdown(self, children: dict[str, subprocess.Popen], grace: float = 15) -> None:
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, proc in children.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {grace} s; killing it")
                proc.kill()
                proc.wait()
        reap_orphans(deadline=time.monotonic() + 5)
        self.stdout.write("Parseq stopped.")


def reap_orphans(deadline: float) -> None:
    """Wait for the descendants left to us (subreaper), until none is left or the deadline."""
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # none left
        if pid == 0:
            time.sleep(0.05)
