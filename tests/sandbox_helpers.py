"""The hostile script of the sandbox tests (tests/test_sandbox_*.py, the production path in
tests/integration/test_sandbox_production.py), and what it is told about the server.

It is told exactly where the server's secrets are (paths on the host, the worker's pid,
the database port): the worst case, an attacker who knows the layout. Each attack
returns what it got, or the error that stopped it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HOSTILE = r"""
import json, os, socket, subprocess, sys, time

def read(path):
    try:
        with open(path, "rb") as handle:
            return {"got": handle.read().decode(errors="replace").replace("\0", "")}
    except OSError as exc:
        return {"denied": f"{type(exc).__name__}: {exc}"}

def write(path):
    try:
        with open(path, "w") as handle:
            handle.write("pwned")
        return {"got": "written"}
    except OSError as exc:
        return {"denied": f"{type(exc).__name__}: {exc}"}

def processes(marker):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(pid)
    return {"got": found} if found else {"denied": "no such process in view"}

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
        return {"got": "connected"}
    except OSError as exc:
        return {"denied": f"{type(exc).__name__}: {exc}"}

def escape(marker):
    # setsid + double fork: a daemon outside the run's process group, meant to outlive it.
    code = ("import os, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(120)\n")
    subprocess.run([sys.executable, "-c", code, marker], check=True)
    return {"got": "forked"}

def victim(data):
    # A job that keeps a secret in its workspace until told to stop (a file there).
    with open("loot.txt", "w") as handle:
        handle.write(data["secret"])
    deadline = time.monotonic() + 60
    while not os.path.exists("stop") and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"victim": "done"}

ATTACKS = {
    "read": lambda d: read(d["path"]),
    "write": lambda d: write(d["path"]),
    "processes": lambda d: processes(d["marker"]),
    "connect": lambda d: connect(d["port"]),
    "escape": lambda d: escape(d["marker"]),
}

def main(data):
    if data.get("attack") == "victim":
        return victim(data)
    return ATTACKS[data["attack"]](data)
"""


def wait_for(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def pids_with(marker: str) -> list[int]:
    """Processes of this machine whose command line holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(pid))
    return found


def workspace_holding(work_dir: Path, name: str) -> Path | None:
    """The workspace (under ``work_dir``) where a running job wrote ``name``."""
    for path in Path(work_dir).glob(f"**/{name}"):
        return path
    return None
