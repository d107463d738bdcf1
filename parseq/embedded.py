"""Keys of the embedded defaults (no ``DATABASE_URL``): made on the first start, kept
under ``PARSEQ_DATA_DIR`` and read by every later process.

``make run`` starts web, worker and scheduler at once, so three first processes may
race to make a key. Each writes its candidate to a private temporary file (mode 0600)
and hard-links it to the final name: a link never replaces an existing file, so the
first one wins and every process then reads the winner's complete file.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_FILE = "secret_key"
SECRETS_KEY_FILE = "secrets_key"
# The key ``make run`` used before keys were generated (with DEBUG=1). Job secrets saved
# then were encrypted with a key derived from it; it still decrypts them, never encrypts.
LEGACY_DEV_SECRET_KEY = "insecure-dev-only-key-set-SECRET_KEY-in-production"


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def kept_key(path: Path, make: Callable[[], str]) -> str:
    """The key in ``path``; made with ``make()`` and written there (0600) if it is absent."""
    if not path.exists():
        write_once(path, make())
    return _read(path)


def write_once(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, candidate = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        os.write(fd, value.encode())
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(candidate, path)
        except FileExistsError:  # another process was first: its key is the key
            pass
        except OSError:  # a file system without hard links: create-exclusive instead
            _create_exclusive(path, value)
    finally:
        os.unlink(candidate)


def _create_exclusive(path: Path, value: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(value)


def _read(path: Path, wait: float = 2.0) -> str:
    # Only the create-exclusive fallback can show a file before its key is written.
    deadline = time.monotonic() + wait
    while True:
        value = path.read_text().strip()
        if value or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not value:
        raise ImproperlyConfigured(f"{path} is empty: delete it and start again to make a key")
    return value
