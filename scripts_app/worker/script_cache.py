"""The bytes of script versions, kept in a worker's memory by content hash.

A script version is immutable and addressed by its sha256, so a worker reads
each version from storage (an S3 GET in production) once instead of per run.
Only bytes that match their recorded hash are kept; the cache is bounded.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from scripts_app.models import ScriptVersion

MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_SCRIPT_BYTES = 1024 * 1024

_lock = threading.Lock()
_kept: OrderedDict[str, bytes] = OrderedDict()
_total = 0


def script_bytes(version: ScriptVersion) -> bytes:
    """The script's bytes: from memory when this worker read them before."""
    with _lock:
        data = _kept.get(version.sha256)
        if data is not None:
            _kept.move_to_end(version.sha256)
            return data
    with version.file.open("rb") as src:
        data = src.read()
    if len(data) <= MAX_SCRIPT_BYTES and hashlib.sha256(data).hexdigest() == version.sha256:
        _keep(version.sha256, data)
    return data


def _keep(sha256: str, data: bytes) -> None:
    global _total
    with _lock:
        if sha256 in _kept:
            return
        _kept[sha256] = data
        _total += len(data)
        while _total > MAX_TOTAL_BYTES:
            _, dropped = _kept.popitem(last=False)
            _total -= len(dropped)


def forget_all() -> None:
    """Empty the cache (tests)."""
    global _total
    with _lock:
        _kept.clear()
        _total = 0
