"""parsers/db_backup.py through the real runner: SQLite and PostgreSQL dumps that restore.

The script sees the database only through BACKUP_DATABASE_URL. Here it is given as a
plain job env var, so these tests do not depend on how secrets are stored; the demo job
declares it as a secret (tests/test_loaddemo.py).
"""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import uuid

import pytest
from django.db import connection

from scripts_app.models import Job, Status
from tests.parser_helpers import artifact, log_text, parser_job, run
from tests.services import free_port, need


def backup_job(url: str | None, slug: str = "db-backup") -> Job:
    env = {"BACKUP_DATABASE_URL": url} if url else {}
    return parser_job("db_backup.py", slug=slug, env=env, timeout=120)


@pytest.fixture
def sqlite_db(tmp_path):
    """A live SQLite database in WAL mode, as the embedded Parseq database runs."""
    path = tmp_path / "parseq.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE job (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO job (name) VALUES (?)", [(f"job {i}",) for i in range(500)])
    db.commit()
    yield path
    db.close()


# --- negative cases -------------------------------------------------------------------


def test_without_the_secret_it_fails_and_ignores_the_servers_database_url(db, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://server:hunter2@127.0.0.1:1/parseq")
    job = backup_job(None)

    execution = run(job)

    assert execution.status == Status.FAILED
    assert execution.error == "BACKUP_DATABASE_URL is not set: declare it as a secret of this job"
    assert not execution.artifacts.exclude(name="output.txt").exists()


def test_an_unsupported_scheme_is_a_clear_failure(db):
    execution = run(backup_job("mysql://root@127.0.0.1/parseq"))

    assert execution.status == Status.FAILED
    assert execution.error == (
        "unsupported database URL scheme 'mysql': use postgres:// or sqlite://"
    )


def test_a_missing_sqlite_file_is_reported_and_not_created(db, tmp_path):
    missing = tmp_path / "nowhere.sqlite3"

    execution = run(backup_job(f"sqlite:///{missing}"))

    assert execution.status == Status.FAILED
    assert execution.error == f"database file not found: {missing}"
    assert not missing.exists()


def test_an_unreachable_postgres_fails_with_pg_dumps_reason_and_no_password(db):
    need("pg_dump", "dumps PostgreSQL databases")
    url = f"postgres://backup:s3cret-pw@127.0.0.1:{free_port()}/parseq"

    execution = run(backup_job(url))

    assert execution.status == Status.FAILED
    assert execution.error.startswith("pg_dump failed: connection to server at")
    assert "\n" not in execution.error
    assert "s3cret-pw" not in execution.error + log_text(execution)
    assert not execution.artifacts.filter(name__endswith=".gz").exists()


# --- SQLite ---------------------------------------------------------------------------


def test_sqlite_backup_is_a_gzip_of_a_consistent_copy(db, sqlite_db, tmp_path, unsandboxed):
    execution = run(backup_job(f"sqlite:///{sqlite_db}"))

    assert execution.status == Status.SUCCEEDED, execution.error
    result = execution.result
    assert result["engine"] == "sqlite"
    assert result["database"] == "parseq.sqlite3"
    assert result["file"].startswith("parseq-") and result["file"].endswith(".sqlite3.gz")
    compressed = artifact(execution, result["file"])
    assert len(compressed) == result["compressed_size"] < result["size"]

    restored = tmp_path / "restored.sqlite3"
    restored.write_bytes(gzip.decompress(compressed))
    copy = sqlite3.connect(restored)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*), max(name) FROM job").fetchone() == (500, "job 99")
    finally:
        copy.close()


def test_the_sha256_in_the_result_matches_the_artifact(db, sqlite_db, unsandboxed):
    import hashlib

    execution = run(backup_job(f"sqlite:///{sqlite_db}"), {"compresslevel": 9})

    digest = hashlib.sha256(artifact(execution, execution.result["file"])).hexdigest()
    assert execution.result["sha256"] == digest


# --- PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def restore_database(transactional_db):
    """An empty database to restore into, dropped afterwards."""
    name = f"restore_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psql(database: str, *args: str, stdin: bytes | None = None) -> str:
    s = connection.settings_dict
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database]
    argv += ["-h", s["HOST"], "-p", str(s["PORT"]), "-U", s["USER"], *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, check=True, timeout=60)
    return done.stdout.decode().strip()


def test_postgres_backup_restores_into_an_empty_database(database_url, restore_database):
    need("pg_dump", "dumps PostgreSQL databases")
    need("psql", "restores the dump to check it")
    marker = f"backup marker {uuid.uuid4().hex}"
    parser_job("hello.py", slug="marker", name=marker)  # committed: pg_dump must see it

    execution = run(backup_job(database_url))

    assert execution.status == Status.SUCCEEDED, execution.error
    result = execution.result
    assert result["engine"] == "postgresql"
    assert result["database"] == connection.settings_dict["NAME"]
    assert result["file"].endswith(".sql.gz")
    dump = gzip.decompress(artifact(execution, result["file"]))
    assert len(dump) == result["size"]
    assert dump.startswith(b"--\n-- PostgreSQL database dump")

    psql(restore_database, "-f", "-", stdin=dump)
    names = psql(restore_database, "-c", "SELECT name FROM scripts_app_job ORDER BY name")
    assert marker in names.splitlines()


def test_postgres_over_a_unix_socket_named_in_the_url_query(
    database_url, postgres_server, unsandboxed
):
    need("pg_dump", "dumps PostgreSQL databases")
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@/{s['NAME']}?host={postgres_server.data_dir}&port={s['PORT']}"

    execution = run(backup_job(url))

    assert execution.status == Status.SUCCEEDED, execution.error
    assert b"PostgreSQL database dump" in gzip.decompress(
        artifact(execution, execution.result["file"])
    )
