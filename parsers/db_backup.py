"""db_backup — a gzip-compressed dump of a database, left as an artifact of the run.

The database is reached ONLY through the ``BACKUP_DATABASE_URL`` environment variable,
which the job declares as a secret (``manage.py loaddemo`` sets it from the server's own
DATABASES setting). Parseq gives scripts a clean environment, so nothing else of the
server's configuration is visible here, by design.

    postgres://user:password@host:5432/name  → pg_dump, plain SQL  → name-<UTC time>.sql.gz
    sqlite:////absolute/path/to/db.sqlite3   → SQLite online backup → name-<UTC time>.sqlite3.gz

Restore with ``gunzip -c name-….sql.gz | psql NEW_DATABASE`` or
``gunzip -c name-….sqlite3.gz > db.sqlite3``.

Params: {"compresslevel": 6}  (gzip level, 1–9)

Result: {"engine", "database", "file", "size", "compressed_size", "sha256"}. The demo job
mails every run, with the dump attached, to the admins through Parseq's notifications.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from scripts_app import runtime

URL_VARIABLE = "BACKUP_DATABASE_URL"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
CHUNK = 1024 * 1024
# URL query parameters understood, as the libpq variables pg_dump reads.
LIBPQ_QUERY = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def database_url() -> str:
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        sys.exit(f"{URL_VARIABLE} is not set: declare it as a secret of this job")
    return url


def stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def gzip_stream(source, name: str, level: int) -> tuple[Path, int]:
    """Compress the binary stream ``source`` into the artifact ``name``; (path, raw bytes)."""
    path = runtime.output_path(name)
    size = 0
    with gzip.open(path, "wb", compresslevel=level) as target:
        while chunk := source.read(CHUNK):
            target.write(chunk)
            size += len(chunk)
    return path, size


def libpq_environment(parts) -> dict[str, str]:
    """The PG* variables for pg_dump: the password never appears on a command line."""
    env = dict(os.environ)
    pairs = {
        "PGHOST": parts.hostname,
        "PGPORT": str(parts.port) if parts.port else None,
        "PGUSER": unquote(parts.username) if parts.username else None,
        "PGPASSWORD": unquote(parts.password) if parts.password else None,
        "PGDATABASE": unquote(parts.path.lstrip("/")),
    }
    for key, value in parse_qsl(parts.query):  # ?host=/run/postgresql&sslmode=require …
        if key in LIBPQ_QUERY:
            pairs[LIBPQ_QUERY[key]] = value
    env.update({key: value for key, value in pairs.items() if value})
    return env


def pg_dump_error(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    errors = [line for line in lines if line.startswith("pg_dump: error:")]
    first = (errors or [line for line in lines if line] or ["no message"])[0]
    return first.removeprefix("pg_dump: error:").strip()


def backup_postgres(parts, level: int) -> dict:
    database = unquote(parts.path.lstrip("/"))
    if not database:
        sys.exit(f"{URL_VARIABLE} names no database")
    print(f"pg_dump of {database} on {parts.hostname or 'the local socket'}")
    name = f"{database}-{stamp()}.sql.gz"
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                ["pg_dump", "--no-password", "--format=plain"],
                stdout=subprocess.PIPE,
                stderr=errors,
                stdin=subprocess.DEVNULL,
                env=libpq_environment(parts),
            )
        except FileNotFoundError:
            sys.exit("pg_dump is not installed on this worker (needed to back up PostgreSQL)")
        path, size = gzip_stream(process.stdout, name, level)
        process.stdout.close()
        if process.wait() != 0:
            path.unlink()
            errors.seek(0)
            sys.exit(f"pg_dump failed: {pg_dump_error(errors.read())}")
    return {"engine": "postgresql", "database": database, "path": path, "size": size}


def sqlite_path(parts) -> Path:
    # sqlite:////abs/path → /abs/path; sqlite:///relative → relative (to the run's directory)
    raw = unquote(parts.netloc + parts.path)
    path = Path(raw[1:] if raw.startswith("/") else raw)
    if not raw or raw in ("/", "/:memory:"):
        sys.exit("an in-memory SQLite database cannot be backed up")
    if not path.is_file():
        sys.exit(f"database file not found: {path}")
    return path


def backup_sqlite(parts, level: int) -> dict:
    source_path = sqlite_path(parts)
    print(f"online backup of {source_path.name}")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite3"
        source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # consistent even while the server writes
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            sys.exit(f"SQLite backup failed: {exc}")
        finally:
            target.close()
            source.close()
        if check != "ok":
            sys.exit(f"the copy failed SQLite's integrity check: {check}")
        name = f"{source_path.stem}-{stamp()}.sqlite3.gz"
        with copy.open("rb") as handle:
            path, size = gzip_stream(handle, name, level)
    return {"engine": "sqlite", "database": source_path.name, "path": path, "size": size}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def main(data: dict) -> dict:
    level = int(data.get("compresslevel", 6))
    if not 1 <= level <= 9:
        sys.exit(f"compresslevel must be from 1 to 9, not {level}")
    parts = urlsplit(database_url())
    if parts.scheme in POSTGRES_SCHEMES:
        dump = backup_postgres(parts, level)
    elif parts.scheme == "sqlite":
        dump = backup_sqlite(parts, level)
    else:
        sys.exit(f"unsupported database URL scheme {parts.scheme!r}: use postgres:// or sqlite://")
    path = dump.pop("path")
    compressed = path.stat().st_size
    print(f"wrote {path.name}: {dump['size']} bytes, {compressed} compressed")
    runtime.write_output(f"backup {path.name} ({compressed} bytes)")
    return {**dump, "file": path.name, "compressed_size": compressed, "sha256": sha256(path)}
