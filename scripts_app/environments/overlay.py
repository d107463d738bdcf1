"""The script-side modules, copied into each environment: ``scripts_app.runtime`` for the
scripts, the bootstrap and the fork server for the worker.

A script in its own environment must not see the worker's site-packages (Django,
boto3, psycopg2…) nor the project's source, yet ``from scripts_app import runtime``
must work. So the environment gets a copy of exactly these modules — standard
library only, no Django, no settings, no secrets — under
``<env>/parseq-runtime/<digest>/``, put on the script's path by PYTHONPATH. The
package ``__init__`` files there are written afresh (a docstring), so whatever the
real packages import never comes along. ``scripts_app.__file__`` then points into the
environment, not at the project. The digest changes when Parseq is upgraded: a new
copy is added beside the old one, and the environment is not rebuilt.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

# Modules a script's process imports, by name (their files are found where they are).
MODULES = (
    "scripts_app.runtime",
    "scripts_app.bootstrap",
    "scripts_app.hardening",
    "scripts_app.worker.runner.forkserver",
    "scripts_app.worker.runner.confine",
)
FOLDER = "parseq-runtime"
INIT = '"""Parseq\'s script-side modules, copied into this environment (no Django here)."""\n'


@functools.cache
def files() -> dict[str, bytes]:
    """Relative path → bytes of every file of the copy."""
    found: dict[str, bytes] = {}
    for name in MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise RuntimeError(f"{name} not found")
        parts = name.split(".")
        for depth in range(1, len(parts)):
            found["/".join(parts[:depth]) + "/__init__.py"] = INIT.encode()
        found["/".join(parts) + ".py"] = Path(spec.origin).read_bytes()
    return found


@functools.cache
def digest() -> str:
    h = hashlib.sha256()
    for path, data in sorted(files().items()):
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


def path_in(env_root: Path) -> Path:
    """The directory to put on PYTHONPATH for ``env_root``."""
    return env_root / FOLDER / digest()


def install(env_root: Path) -> Path:
    """Make sure ``env_root`` holds this Parseq's copy; its path. Written to a temporary
    folder and renamed: a run never sees a half-written copy."""
    target = path_in(env_root)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".new-", dir=target.parent))
    try:
        for relative, data in files().items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for folder, _dirs, names in os.walk(staging):
            os.chmod(folder, 0o755)
            for name in names:
                os.chmod(os.path.join(folder, name), 0o644)
        try:
            os.rename(staging, target)
        except OSError:  # another process installed the same copy meanwhile
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
