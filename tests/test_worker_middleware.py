"""The worker's connection hygiene costs no extra query per message."""

from __future__ import annotations

from django import db as django_db
from django.db import connection

from scripts_app.worker.middleware import DbConnections


def counting_checks(monkeypatch) -> list[int]:
    calls = []
    monkeypatch.setattr(django_db, "close_old_connections", lambda: calls.append(1))
    return calls


def test_connections_are_checked_at_most_once_a_second_per_thread(monkeypatch, db):
    calls = counting_checks(monkeypatch)
    hygiene = DbConnections()
    for _ in range(50):  # 25 messages
        hygiene.before_process_message(None, None)
        hygiene.after_process_message(None, None)
    assert len(calls) == 1
    monkeypatch.setattr(DbConnections, "EVERY_SECONDS", 0.0)
    hygiene.before_process_message(None, None)
    assert len(calls) == 2


def test_a_database_error_gets_the_connection_checked_at_once(monkeypatch, db):
    connection.ensure_connection()
    calls = counting_checks(monkeypatch)
    hygiene = DbConnections()
    hygiene.before_process_message(None, None)
    monkeypatch.setattr(connection, "errors_occurred", True)
    hygiene.after_process_message(None, None)
    assert len(calls) == 2
