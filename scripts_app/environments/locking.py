"""Resolving and locking a script's declared dependencies with uv, at upload or save.

The lock is a requirements file of exact pins with every distribution's sha256
(``uv pip compile --generate-hashes``), headed by one comment naming what resolved
it. It is stored with the script version — a version is its bytes *and* its lock —
so a run, a retry or a re-run of that version installs exactly those files, whatever
the index holds later. It holds no index URL and so no credential.

Locks are wheels-only unless PARSEQ_ENV_ALLOW_SDISTS=1: building a source
distribution runs that package's code, here in the web process that uploads.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from scripts_app.environments import metadata, uvtool
from scripts_app.errors import DependencyError, UvFailed

LOCK_FORMAT = "parseq lock 1"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
# What validation resolved is what the save stores, without asking uv twice.
MEMO_SIZE = 64
MEMO_SECONDS = 900


@dataclass(frozen=True)
class Lock:
    declared: metadata.Declared
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def pinned_packages(lock_text: str) -> list[tuple[str, str]]:
    """(name, version) of every package a lock pins, in its order."""
    return [m.groups() for line in lock_text.splitlines() if (m := PIN.match(line))]


def cache_dir() -> Path:
    return Path(settings.PARSEQ_ENV_CACHE)


def header() -> str:
    python = ".".join(platform.python_version_tuple()[:2])
    machine = f"{sys.platform} {platform.machine()}"
    return f"# {LOCK_FORMAT}: uv {uvtool.version()}, {platform.python_implementation()} {python}, {machine}\n"


def lock_script(source: bytes, requirements: str = "") -> Lock | None:
    """The lock of what ``source`` and its job's ``requirements`` declare; None when they
    declare nothing (the script runs in the worker's interpreter, as always).

    DependencyError when the declaration cannot be read, asks for another Python, or
    does not resolve: the message names the package and says why (uv's words).
    """
    text = source.decode("utf-8", errors="replace")
    try:
        declared = metadata.declared(text, requirements or "")
    except metadata.MetadataError as exc:
        raise DependencyError(f"dependencies: {exc}") from None
    if declared is None:
        return None
    check_python(declared.requires_python)
    key = (hashlib.sha256(source).hexdigest(), declared, uvtool.Index.from_settings())
    found = _memo_get(key)
    if found is None:
        found = Lock(declared, header() + resolve(declared.dependencies, key[2]))
        _memo_put(key, found)
    return found


def has_block(source: bytes) -> bool:
    """Whether the script carries a PEP 723 block (readable or not)."""
    return metadata.MARKER.encode() in source


def check_python(requires_python: str) -> None:
    if not requires_python:
        return
    try:
        wanted = SpecifierSet(requires_python)
    except InvalidSpecifier:
        raise DependencyError(f"requires-python {requires_python!r} is not valid") from None
    here = platform.python_version()
    if not wanted.contains(here, prereleases=True):
        raise DependencyError(
            f"the script requires Python {requires_python}; this server runs Python {here}"
        )


def resolve(dependencies: tuple[str, ...], index: uvtool.Index) -> str:
    """The pins and hashes uv resolves ``dependencies`` to, for this server's Python."""
    if not dependencies:
        return ""
    args = [
        "pip",
        "compile",
        "-",
        "--quiet",
        "--no-config",
        "--no-header",
        "--generate-hashes",
        "--python",
        uvtool.base_python(),
        *index.args(),
        *([] if getattr(settings, "PARSEQ_ENV_ALLOW_SDISTS", False) else ["--no-build"]),
    ]
    try:
        return uvtool.run(
            args,
            cache_dir=cache_dir(),
            index=index,
            timeout=settings.PARSEQ_ENV_LOCK_TIMEOUT,
            stdin="\n".join(dependencies) + "\n",
        )
    except UvFailed as exc:
        raise DependencyError(f"dependencies could not be resolved: {exc}") from None


_memo: OrderedDict[tuple, tuple[float, Lock]] = OrderedDict()
_memo_lock = threading.Lock()


def _memo_get(key: tuple) -> Lock | None:
    with _memo_lock:
        kept = _memo.get(key)
        if kept is None or time.monotonic() - kept[0] > MEMO_SECONDS:
            return None
        return kept[1]


def _memo_put(key: tuple, lock: Lock) -> None:
    with _memo_lock:
        _memo[key] = (time.monotonic(), lock)
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)


def forget() -> None:
    """Drop remembered locks (tests, or after changing the index settings)."""
    with _memo_lock:
        _memo.clear()
