"""What ``/readyz`` checks: the database answers, its migrations are applied, the broker
accepts a connection. Each check returns None when fine, else what is wrong."""

from __future__ import annotations

import copy
import logging

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)
BROKER_TIMEOUT = 3.0  # seconds; a probe must answer well within kubelet's timeout

_migrated = False  # once true, true for this process's code: migrations are not undone


def database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        connection.close()  # the next probe connects afresh
        return f"unreachable: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    return None


def migrations() -> str | None:
    global _migrated
    if _migrated:
        return None
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        connection.close()
        return f"not checked: {exc}".strip()  # the answer shows "not checked"
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
        more = f" and {len(plan) - 3} more" if len(plan) > 3 else ""
        return f"{len(plan)} unapplied, run manage.py migrate: {names}{more}"
    _migrated = True
    return None


def broker() -> str | None:
    """A fresh AMQP connection to RabbitMQ (the embedded broker is always there)."""
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    current = dramatiq.get_broker()
    if not isinstance(current, RabbitmqBroker):
        return None
    import pika

    targets = current.parameters if isinstance(current.parameters, list) else [current.parameters]
    errors = []
    for target in targets:
        params = copy.copy(target)
        params.connection_attempts, params.retry_delay = 1, 0
        params.socket_timeout = params.blocked_connection_timeout = BROKER_TIMEOUT
        params.stack_timeout = BROKER_TIMEOUT
        try:
            pika.BlockingConnection(params).close()
            return None
        except Exception as exc:  # pika raises many unrelated types for "cannot connect"
            errors.append(f"{params.host}:{params.port}: {type(exc).__name__} {exc}".strip())
    return "unreachable: " + "; ".join(errors)


CHECKS = {"database": database, "migrations": migrations, "broker": broker}


def readiness() -> dict[str, str]:
    """Each part's state: "ok", or what is wrong. Migrations are not checked without a
    database."""
    states = {}
    for name, check in CHECKS.items():
        if name == "migrations" and states.get("database") != "ok":
            states[name] = "not checked: no database"
            continue
        problem = check()
        states[name] = problem or "ok"
    return states
