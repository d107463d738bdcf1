"""Which worker caches hold which environments (EnvironmentCopy rows), for the admin/API.

Each cache directory has an id of its own (``<cache>/cache-id``): workers of one host
may share a cache (one volume), workers of other hosts have theirs, and the same path
on two hosts is two caches. A worker records an environment when it builds it or
first uses it in a process, and deletes the record when it evicts it; at boot it
reconciles its cache's records with what is on disk (``worker/environments.py``
passes what its cache holds). Plain values only: the web edges read these rows and
never import the cache itself.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from pathlib import Path

from django.db import DatabaseError

from scripts_app.models import EnvironmentCopy

logger = logging.getLogger(__name__)
CACHE_ID = "cache-id"

_recorded: set[tuple[str, str]] = set()  # (cache id, lock) this process has recorded
_recorded_lock = threading.Lock()


_ids: dict[Path, str] = {}


def cache_id(root: Path) -> str:
    """This cache's id, made once (the first process to write it wins); read once."""
    root = Path(root)
    if root not in _ids:
        _ids[root] = _read_or_make_id(root)
    return _ids[root]


def _read_or_make_id(root: Path) -> str:
    path = root / CACHE_ID
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{CACHE_ID}-{secrets.token_hex(4)}")
    staging.write_text(secrets.token_hex(16))
    try:
        os.link(staging, path)  # fails if another process got there first
    except FileExistsError:
        pass
    finally:
        staging.unlink()
    return path.read_text().strip()


def record(root: Path, lock_sha256: str, size_bytes: int, build_seconds: float | None) -> None:
    """Say that the cache at ``root`` holds the environment: once per process, and again
    whenever it was just built (``build_seconds`` given)."""
    ident = cache_id(root)
    with _recorded_lock:
        if (ident, lock_sha256) in _recorded and build_seconds is None:
            return
    defaults = {"host": socket.gethostname()[:200], "size_bytes": size_bytes}
    if build_seconds is not None:
        defaults["build_seconds"] = build_seconds
    try:
        EnvironmentCopy.objects.update_or_create(
            cache_id=ident, lock_sha256=lock_sha256, defaults=defaults
        )
    except DatabaseError as exc:  # only a display: never fail a run for it
        logger.warning("could not record environment %s: %s", lock_sha256[:12], exc)
        return
    with _recorded_lock:
        _recorded.add((ident, lock_sha256))


def forget(root: Path, lock_sha256: str) -> None:
    """Say that the cache at ``root`` no longer holds the environment (evicted)."""
    ident = cache_id(root)
    with _recorded_lock:
        _recorded.discard((ident, lock_sha256))
    try:
        EnvironmentCopy.objects.filter(cache_id=ident, lock_sha256=lock_sha256).delete()
    except DatabaseError as exc:
        logger.warning("could not forget environment %s: %s", lock_sha256[:12], exc)


def reconcile(root: Path, on_disk: dict[str, int]) -> tuple[int, int]:
    """Records of the cache at ``root`` made to match what it holds (lock → size in
    bytes): (added, removed)."""
    ident = cache_id(root)
    recorded = set(
        EnvironmentCopy.objects.filter(cache_id=ident).values_list("lock_sha256", flat=True)
    )
    gone = recorded - on_disk.keys()
    EnvironmentCopy.objects.filter(cache_id=ident, lock_sha256__in=gone).delete()
    host = socket.gethostname()[:200]
    new = [
        EnvironmentCopy(cache_id=ident, lock_sha256=sha, host=host, size_bytes=size)
        for sha, size in on_disk.items()
        if sha not in recorded
    ]
    EnvironmentCopy.objects.bulk_create(new, ignore_conflicts=True)
    return len(new), len(gone)


def copies_of(lock_sha256: str) -> list[EnvironmentCopy]:
    if not lock_sha256:
        return []
    return list(EnvironmentCopy.objects.filter(lock_sha256=lock_sha256))


def copies_by_lock(locks: set[str]) -> dict[str, list[EnvironmentCopy]]:
    found: dict[str, list[EnvironmentCopy]] = {sha: [] for sha in locks}
    if locks:
        for copy in EnvironmentCopy.objects.filter(lock_sha256__in=locks):
            found[copy.lock_sha256].append(copy)
    return found


def forget_process_state() -> None:
    """Tests: forget what this process recorded."""
    with _recorded_lock:
        _recorded.clear()
    _ids.clear()
