"""A worker reads each script version from storage once: versions are immutable."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from scripts_app.models import ScriptVersion
from scripts_app.worker import script_cache


def count_opens(monkeypatch) -> list[str]:
    opened = []
    original = default_storage.open

    def open_(name, mode="rb"):
        opened.append(name)
        return original(name, mode)

    monkeypatch.setattr(default_storage, "open", open_)
    return opened


def version_of(job, content: bytes, sha256: str | None = None):
    """A factory of ScriptVersion objects as each run loads them (a fresh instance)."""
    name = default_storage.save("scripts/copy.py", ContentFile(content))
    digest = sha256 or hashlib.sha256(content).hexdigest()
    return lambda: ScriptVersion(job=job, sha256=digest, file=name, size=len(content), source="t")


def test_a_version_is_read_from_storage_once(make_job, monkeypatch):
    version = version_of(make_job(), b"print('hi')\n")
    opened = count_opens(monkeypatch)
    assert script_cache.script_bytes(version()) == b"print('hi')\n"
    assert script_cache.script_bytes(version()) == b"print('hi')\n"
    assert len(opened) == 1


def test_bytes_that_do_not_match_their_hash_are_not_kept(make_job, monkeypatch):
    version = version_of(make_job(), b"print('changed')\n", sha256="0" * 64)
    opened = count_opens(monkeypatch)
    script_cache.script_bytes(version())
    script_cache.script_bytes(version())
    assert len(opened) == 2


def test_the_cache_forgets_the_least_recently_used_beyond_its_bound(make_job, monkeypatch):
    monkeypatch.setattr(script_cache, "MAX_TOTAL_BYTES", 100)
    job = make_job()
    first, second = version_of(job, b"a = 1\n" * 10), version_of(job, b"b = 2\n" * 10)
    opened = count_opens(monkeypatch)
    script_cache.script_bytes(first())
    script_cache.script_bytes(second())  # 120 bytes in all: the first one goes
    script_cache.script_bytes(second())
    script_cache.script_bytes(first())
    assert len(opened) == 3
