"""A worker's environments: one per lock, built once, shared, evicted least recently used.

Layout under the cache root (PARSEQ_ENV_CACHE)::

    envs/<key>/              complete environments (<key>/bin/python), never changed
    envs/.build-<key>-<id>/  a build in progress (or an interrupted one: never used)
    envs/.trash-<key>-<id>/  an evicted environment being deleted
    locks/<key>.build        held exclusively while <key> is built or evicted
    locks/<key>.use          held shared by every run (and fork server) using <key>;
                             its mtime is when <key> was last used
    locks/<key>.failed       the last failed build's error
    uv-cache/                uv's cache: same filesystem, so files are hard-linked

A build happens in ``.build-…`` and is renamed to ``envs/<key>`` only once complete
(its marker file written last), so a half-built environment is never seen; runs
that need the same missing environment wait on its build lock and find it built.
An environment is evicted only when no one holds its use lock, and never while it
is being built. All locks are ``flock``\\ s: the kernel drops them with their holder.
Django-free: the worker's glue is worker/environments.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts_app.environments import overlay, uvtool
from scripts_app.errors import EnvironmentBuildError, UvFailed

MARKER = ".parseq-env.json"
LOCK_FILE = "parseq.lock"


def env_key(lock_sha256: str) -> str:
    """The directory name of a lock's environment on this interpreter."""
    return f"{lock_sha256[:32]}-{sys.implementation.cache_tag}"


@dataclass
class Use:
    """A run's hold on a complete environment; ``release()`` when the run is over."""

    key: str
    path: Path
    built: bool  # this run built it
    seconds: float  # spent building, or waiting for another run's build, or checking
    waited: bool = False
    size_bytes: int = 0
    fd: int | None = field(default=None, repr=False)

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    @property
    def runtime_path(self) -> str:
        return str(overlay.path_in(self.path))

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class Entry:
    key: str
    path: Path
    size_bytes: int
    last_used: float
    lock_sha256: str


class Cache:
    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int,
        index: uvtool.Index,
        build_timeout: float = 900,
        allow_sdists: bool = False,
        on_evict: Callable[[Entry], None] | None = None,
    ):
        self.root = Path(root)
        self.envs = self.root / "envs"
        self.locks = self.root / "locks"
        self.max_bytes = max_bytes
        self.index = index
        self.build_timeout = build_timeout
        self.allow_sdists = allow_sdists
        self.on_evict = on_evict
        self._sizes: dict[Path, int] = {}

    # -- using ------------------------------------------------------------------------

    def acquire(self, lock_text: str, lock_sha256: str) -> Use:
        """The complete environment of this lock, built first if this cache lacks it.

        EnvironmentBuildError with uv's error if the build fails (the next call tries
        again). Concurrent callers for one missing environment build it once.
        """
        began = time.monotonic()
        key = env_key(lock_sha256)
        final = self.envs / key
        use_fd = self._lock_fd(key, "use")
        try:
            fcntl.flock(use_fd, fcntl.LOCK_SH)  # from now on it cannot be evicted
            if self._complete(final):
                return self._ready(key, final, use_fd, began, built=False)
            build_fd = self._lock_fd(key, "build")
            try:
                fcntl.flock(build_fd, fcntl.LOCK_EX)  # the others wait here
                if self._complete(final):  # built while this one waited
                    return self._ready(key, final, use_fd, began, built=False, waited=True)
                self._raise_if_failed_meanwhile(key, began)
                self._build(key, lock_text, lock_sha256, final)
            finally:
                os.close(build_fd)
            use = self._ready(key, final, use_fd, began, built=True)
        except BaseException:
            os.close(use_fd)
            raise
        self.enforce_cap()
        return use

    def hold(self, lock_sha256: str):
        """A file object holding the shared use lock of an environment (a fork server's)."""
        fd = self._lock_fd(env_key(lock_sha256), "use")
        fcntl.flock(fd, fcntl.LOCK_SH)
        return os.fdopen(fd, "rb", buffering=0)

    def _ready(self, key, final, use_fd, began, *, built, waited=False) -> Use:
        os.utime(self.locks / f"{key}.use")  # the LRU clock
        overlay.install(final)  # a no-op unless Parseq changed since the build
        return Use(
            key=key,
            path=final,
            built=built,
            seconds=time.monotonic() - began,
            waited=waited,
            size_bytes=self._size(final),
            fd=use_fd,
        )

    # -- building ---------------------------------------------------------------------

    def _build(self, key: str, lock_text: str, lock_sha256: str, final: Path) -> None:
        began = time.monotonic()
        self._remove_leftovers(key)  # interrupted builds of this key: never used, deleted
        staging = self.envs / f".build-{key}-{secrets.token_hex(4)}"
        try:
            venv = ["venv", str(staging), "--quiet", "--relocatable"]
            self._uv([*venv, "--python", uvtool.base_python()])
            (staging / LOCK_FILE).write_text(lock_text, encoding="utf-8")
            if has_requirements(lock_text):
                self._uv(self._install_args(staging))
            overlay.install(staging)
            os.chmod(staging, 0o755)
            marker = {
                "lock_sha256": lock_sha256,
                "key": key,
                "size_bytes": tree_size(staging),
                "build_seconds": round(time.monotonic() - began, 3),
                "built_at": time.time(),
            }
            (staging / MARKER).write_text(json.dumps(marker), encoding="utf-8")
            os.rename(staging, final)
        except UvFailed as exc:
            (self.locks / f"{key}.failed").write_text(str(exc), encoding="utf-8")
            raise EnvironmentBuildError(str(exc)) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _unlink(self.locks / f"{key}.failed")

    def _install_args(self, staging: Path) -> list[str]:
        return [
            "pip",
            "install",
            "--quiet",
            "--python",
            str(staging / "bin" / "python"),
            "--require-hashes",
            "--no-deps",
            "--compile-bytecode",
            "-r",
            str(staging / LOCK_FILE),
            *self.index.args(),
            *([] if self.allow_sdists else ["--no-build"]),
        ]

    def _uv(self, args: list[str]) -> None:
        uvtool.run(
            [*args, "--no-config"],
            cache_dir=self.root,
            index=self.index,
            timeout=self.build_timeout,
        )

    def _raise_if_failed_meanwhile(self, key: str, began: float) -> None:
        """A run that waited on a build that failed fails with its error, rather than
        every waiting run trying again in turn; a later run does try again."""
        failed = self.locks / f"{key}.failed"
        try:
            info = failed.stat()
        except FileNotFoundError:
            return
        waited_since = time.time() - (time.monotonic() - began)
        if info.st_mtime >= waited_since:
            raise EnvironmentBuildError(failed.read_text(encoding="utf-8"))

    # -- evicting ---------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Complete environments, least recently used first."""
        found = []
        for path in self._env_dirs():
            marker = self._marker(path)
            if not marker:
                continue
            try:
                last_used = (self.locks / f"{path.name}.use").stat().st_mtime
            except FileNotFoundError:
                last_used = 0.0
            found.append(
                Entry(
                    path.name, path, marker.get("size_bytes", 0), last_used, marker["lock_sha256"]
                )
            )
        return sorted(found, key=lambda e: e.last_used)

    def evict(self, entry: Entry) -> bool:
        """Delete an environment nobody uses or builds; False if it is in use."""
        build_fd = self._lock_fd(entry.key, "build")
        try:
            if not _try_lock(build_fd):
                return False
            use_fd = self._lock_fd(entry.key, "use")
            try:
                if not _try_lock(use_fd):
                    return False
                trash = self.envs / f".trash-{entry.key}-{secrets.token_hex(4)}"
                os.rename(entry.path, trash)
            finally:
                os.close(use_fd)
        finally:
            os.close(build_fd)
        shutil.rmtree(trash, ignore_errors=True)
        self._sizes.pop(entry.path, None)
        if self.on_evict:
            self.on_evict(entry)
        return True

    def in_use(self, entry: Entry) -> bool:
        """Whether a run or a fork server holds the environment now."""
        fd = self._lock_fd(entry.key, "use")
        try:
            return not _try_lock(fd)
        finally:
            os.close(fd)

    def enforce_cap(self, max_bytes: int | None = None) -> list[Entry]:
        """Evict least recently used environments not in use until under the cap."""
        cap = self.max_bytes if max_bytes is None else max_bytes
        entries = self.entries()
        total = sum(e.size_bytes for e in entries)
        evicted = []
        for entry in entries:
            if total <= cap:
                break
            if self.evict(entry):
                total -= entry.size_bytes
                evicted.append(entry)
        return evicted

    def prune(self, *, everything: bool = False) -> list[Entry]:
        """Delete leftovers of interrupted builds and evictions, then evict over the cap
        (``everything``: every environment not in use)."""
        keys = {p.name.removeprefix(".build-").rsplit("-", 1)[0] for p in self._leftovers("build")}
        for key in keys:
            build_fd = self._lock_fd(key, "build")
            try:
                if _try_lock(build_fd):  # no build of it running: what is there is debris
                    self._remove_leftovers(key)
            finally:
                os.close(build_fd)
        for trash in self._leftovers("trash"):
            shutil.rmtree(trash, ignore_errors=True)
        return self.enforce_cap(0 if everything else None)

    # -- helpers ----------------------------------------------------------------------

    def _lock_fd(self, key: str, kind: str) -> int:
        self.locks.mkdir(parents=True, exist_ok=True)
        self.envs.mkdir(parents=True, exist_ok=True)
        return os.open(self.locks / f"{key}.{kind}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _complete(self, path: Path) -> bool:
        return (path / MARKER).is_file()

    def _size(self, path: Path) -> int:
        """The environment's size from its marker (read once: a complete one never changes)."""
        size = self._sizes.get(path)
        if size is None:
            size = self._sizes[path] = self._marker(path).get("size_bytes", 0)
        return size

    def _marker(self, path: Path) -> dict:
        try:
            return json.loads((path / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _env_dirs(self) -> list[Path]:
        try:
            return [p for p in self.envs.iterdir() if not p.name.startswith(".")]
        except FileNotFoundError:
            return []

    def _leftovers(self, kind: str) -> list[Path]:
        try:
            return [p for p in self.envs.iterdir() if p.name.startswith(f".{kind}-")]
        except FileNotFoundError:
            return []

    def _remove_leftovers(self, key: str) -> None:
        for path in self._leftovers("build"):
            if path.name.startswith(f".build-{key}-"):
                shutil.rmtree(path, ignore_errors=True)


def has_requirements(lock_text: str) -> bool:
    return any(
        line.strip() and not line.lstrip().startswith("#") for line in lock_text.splitlines()
    )


def tree_size(root: Path) -> int:
    """Bytes of the files under ``root`` (each file once, however many links it has)."""
    seen, total = set(), 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
