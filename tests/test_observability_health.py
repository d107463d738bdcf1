"""/healthz and /readyz: the process answers; the database, its migrations and the broker
are reachable — else 503 naming the part that is not."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from scripts_app.observability import health, probes
from tests.services import free_port


@pytest.fixture(autouse=True)
def _check_migrations_afresh(monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)
    monkeypatch.setattr(probes, "_last_ready", None)


def readyz(client):
    response = client.get("/readyz", HTTP_HOST="10.42.0.9:8000")  # a pod IP, not allowed
    return response.status_code, response.json()


def test_healthz_answers_any_host_without_touching_anything(client):
    response = client.get("/healthz", HTTP_HOST="10.42.0.9:8000")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_with_the_database_migrated_and_the_broker_there(client, db):
    assert readyz(client) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "broker": "ok"}},
    )


def test_readyz_names_an_unreachable_broker(client, db, monkeypatch, caplog):
    import dramatiq

    closed = RabbitmqBroker(url=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    monkeypatch.setattr(dramatiq, "get_broker", lambda: closed)
    status, body = readyz(client)
    assert status == 503 and body["status"] == "unavailable"
    assert body["checks"]["broker"] == "unreachable"  # the details go to the log only
    assert body["checks"]["database"] == "ok"
    (logged,) = [r for r in caplog.records if r.getMessage() == "readiness: not ready"]
    assert logged.broker.startswith("unreachable: 127.0.0.1:")  # the details, for operators


def test_readyz_names_unapplied_migrations(client, transactional_db):
    node = MigrationLoader(connection).graph.node_map[("scripts_app", "0006_process_heartbeats")]
    (parent,) = [p for p in node.parents if p[0] == "scripts_app"]
    call_command("migrate", "scripts_app", parent[1], verbosity=0)
    try:
        status, body = readyz(client)
    finally:
        call_command("migrate", "scripts_app", verbosity=0)
    assert status == 503
    assert body["checks"]["migrations"].endswith("unapplied, run manage.py migrate")
    assert readyz(client)[0] == 200


@pytest.mark.slow
def test_readyz_is_503_while_postgresql_is_down_and_200_once_it_is_back(
    client, transactional_db, postgres_server
):
    assert readyz(client)[0] == 200
    postgres_server.stop()
    try:
        status, body = readyz(client)
    finally:
        postgres_server.start()
    assert status == 503
    assert body["checks"]["database"] == "unreachable"
    assert body["checks"]["migrations"] == "not checked"
    assert readyz(client) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "broker": "ok"}},
    )
