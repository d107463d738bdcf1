"""Real services for the test suite, started from binaries on this machine.

Each is bound to 127.0.0.1, lives in a temporary directory and is torn down
after. A missing binary skips the test with a clear reason, unless
PARSEQ_REQUIRE_SERVICES=1 (as in .ci/run), where it fails instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket

import pytest


def services_required() -> bool:
    return os.environ.get("PARSEQ_REQUIRE_SERVICES") == "1"


def need(binary: str, why: str) -> str:
    """The path of ``binary``, or skip (fail under PARSEQ_REQUIRE_SERVICES=1)."""
    path = shutil.which(binary)
    if path:
        return path
    message = f"{binary} is not installed ({why}); .ci/run installs it"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    """Environment for a test server: not the suite's own, which holds SECRET_KEY and
    friends that scripts under test scan /proc for (tests/test_script_environment.py)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **extra}


def as_user(user: str, argv: list[str]) -> list[str]:
    """Run ``argv`` as ``user`` when we are root (server binaries refuse root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", user, "--", *argv]


def chown_to(path: str, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
