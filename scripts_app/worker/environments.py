"""A run in its script version's environment: the worker's side of ``environments/``.

``worker/steps.py`` calls ``run_in`` only for a version with a lock; a script that
declares nothing never reaches this module. The run's log starts with one
line saying whether the environment was cached or built, and how long that took.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from scripts_app.environments import locking, records, uvtool
from scripts_app.environments.cache import Cache, Use
from scripts_app.errors import EnvironmentBuildError
from scripts_app.models import ScriptVersion
from scripts_app.worker.runner.process import ProcessOutcome, ProcessSpec

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_caches: dict[tuple, Cache] = {}


def worker_cache() -> Cache:
    """This process's cache, as the settings describe it now."""
    config = (
        Path(settings.PARSEQ_ENV_CACHE),
        settings.PARSEQ_ENV_CACHE_MAX_MB * 1024 * 1024,
        uvtool.Index.from_settings(),
        settings.PARSEQ_ENV_BUILD_TIMEOUT,
        getattr(settings, "PARSEQ_ENV_ALLOW_SDISTS", False),
    )
    with _lock:
        cache = _caches.get(config)
        if cache is None:
            root, max_bytes, index, timeout, sdists = config
            cache = _caches[config] = Cache(
                root,
                max_bytes=max_bytes,
                index=index,
                build_timeout=timeout,
                allow_sdists=sdists,
            )
            cache.on_evict = lambda entry: records.forget(root, entry.lock_sha256)
        return cache


def forget_caches() -> None:
    """Tests: build caches afresh from the settings."""
    with _lock:
        _caches.clear()


@dataclass
class Prepared:
    """What the run's process needs to run in the environment."""

    use: Use
    lock_sha256: str
    cache: Cache
    line: bytes

    def apply(self, spec: ProcessSpec) -> None:
        """Point the run's process at this environment: its interpreter, its fork servers,
        the runtime copy as the whole PYTHONPATH (no project, no worker site-packages), its
        bin/ first on PATH, and the log's first line."""
        spec.env = {
            **spec.env,
            "PATH": f"{self.use.path / 'bin'}:{spec.env.get('PATH', '')}",
            "PYTHONPATH": self.use.runtime_path,
            "VIRTUAL_ENV": str(self.use.path),
        }
        spec.interpreter = self.use.python
        spec.server_hold = self.hold
        spec.preamble = self.line

    def hold(self):
        return self.cache.hold(self.lock_sha256)


def short(lock_sha256: str) -> str:
    return lock_sha256[:12]


@contextmanager
def environment_for(version: ScriptVersion) -> Iterator[Prepared]:
    """The version's environment, held for the run; built first if this cache lacks it.

    EnvironmentBuildError if it cannot be built: its ``log`` holds the run's log (the
    line and uv's error, credentials removed); the next run tries again.
    """
    cache = worker_cache()
    began = time.monotonic()
    try:
        use = cache.acquire(version.lock, version.lock_sha256)
    except EnvironmentBuildError as exc:
        seconds = time.monotonic() - began
        exc.log = (
            f"[parseq] environment {short(version.lock_sha256)}: build failed after "
            f"{seconds:.2f} s; uv said:\n{exc}\n"
        ).encode()
        logger.warning("environment %s failed to build: %s", short(version.lock_sha256), exc)
        raise
    try:
        built_in = use.seconds if use.built else None
        records.record(cache.root, version.lock_sha256, use.size_bytes, built_in)
        yield Prepared(use, version.lock_sha256, cache, log_line(use, version))
    finally:
        use.release()


def run_in(
    version: ScriptVersion, log_file: Path, run: Callable[[Prepared], ProcessOutcome]
) -> ProcessOutcome:
    """``run(prepared)`` in the version's environment; a build that fails is the run's
    outcome (its reason) and its log (uv's error)."""
    try:
        with environment_for(version) as prepared:
            return run(prepared)
    except EnvironmentBuildError as exc:
        log_file.write_bytes(getattr(exc, "log", b""))
        return ProcessOutcome(exit_code=None, stop_reason=failure_reason(exc))


def log_line(use: Use, version: ScriptVersion) -> bytes:
    name = f"[parseq] environment {short(version.lock_sha256)}"
    if use.built:
        count = len(locking.pinned_packages(version.lock))
        packages = f"{count} package{'s' if count != 1 else ''}"
        return f"{name}: built in {use.seconds:.2f} s ({packages})\n".encode()
    if use.waited:
        return f"{name}: cached (built by another run; waited {use.seconds:.2f} s)\n".encode()
    return f"{name}: cached ({use.seconds * 1000:.1f} ms)\n".encode()


def failure_reason(exc: EnvironmentBuildError) -> str:
    return f"could not build the script's environment: {exc}"


@dataclass
class PruneReport:
    evicted: list
    kept: list
    in_use: list


def prune(*, everything: bool = False, max_mb: int | None = None) -> PruneReport:
    """``manage.py pruneenvs``: leftovers of interrupted builds deleted, then the least
    recently used environments not in use evicted down to the cap (``everything``: all
    not in use); this cache's records made to match."""
    cache = worker_cache()
    if everything:
        evicted = cache.prune(everything=True)
    else:
        evicted = cache.prune()
        if max_mb is not None:
            evicted += cache.enforce_cap(max_mb * 1024 * 1024)
    kept = cache.entries()
    records.reconcile(cache.root, {entry.lock_sha256: entry.size_bytes for entry in kept})
    return PruneReport(evicted=evicted, kept=kept, in_use=[e for e in kept if cache.in_use(e)])


def prune_uv_cache() -> str:
    """uv's own cache: entries no environment needs any more (``uv cache prune``)."""
    cache = worker_cache()
    return uvtool.run(["cache", "prune", "--quiet"], cache_dir=cache.root, index=cache.index,
                      timeout=cache.build_timeout)  # fmt: skip
