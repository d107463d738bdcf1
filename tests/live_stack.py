"""``make run`` as a newcomer starts it, for the tests that drive a live instance
(tests/test_make_run.py, tests/test_readme.py).

The environment is a plain shell's: PATH and HOME only — no DEBUG, no SECRET_KEY, no
settings module — plus the two variables the README itself names for this: ``PORT``
(``PORT=9000 make run``) on a free port, and ``PARSEQ_DATA_DIR`` so that the run's SQLite
database, keys and files go to the test's directory instead of the checkout's ``var/``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def plain_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir),
        "LANG": "C.UTF-8",
        "PARSEQ_DATA_DIR": str(data_dir / "var"),
        **extra,
    }


@dataclass
class LiveStack:
    proc: subprocess.Popen
    port: int
    env: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> str:
        """Ctrl-C, as in the terminal: SIGINT to the whole foreground group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.output()

    def leftovers(self) -> str:
        """Processes of the run's session still alive ('' when none)."""
        found = subprocess.run(["pgrep", "-s", str(self.proc.pid)], capture_output=True, text=True)
        return found.stdout.strip()


def make_run(data_dir: Path, seconds: float = 240) -> LiveStack:
    """Start ``make run`` in its own session and wait until it serves; the caller stops it."""
    port = free_port()
    env = plain_env(data_dir, PORT=str(port))
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "make-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = LiveStack(proc, port, {k: v for k, v in env.items() if k != "PORT"}, log)
    try:
        _wait_until_up(stack, seconds)
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_until_up(stack: LiveStack, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stack.proc.poll() is not None:
            raise AssertionError(f"make run exited early:\n{stack.output()[-3000:]}")
        if _answers(f"{stack.url}/healthz"):  # (its output is block-buffered in the log)
            return
        time.sleep(0.3)
    raise AssertionError(f"make run did not come up:\n{stack.output()[-3000:]}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
