"""Property-based run against the live OpenAPI schema (schemathesis, bounded): no 5xx, and
every response matches the schema (status code, content type, body).

Bounded to a few examples per operation (21 operations, ~40 s on a busy 2-core machine).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from scripts_app.models import Execution, Status, Trigger

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The schema as the app serves it (the docs are public by default).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture
def token(db, make_job, alice, settings) -> str:
    """Some data to find, and a superuser's token."""
    # No worker runs here: a generated call that names a real script waits this long.
    settings.MAX_SCRIPT_EXECUTION_TIME = 1
    job = make_job(slug="echo")
    Execution.objects.create(job=job, trigger=Trigger.API, status=Status.SUCCEEDED)
    Execution.objects.create(job=job, trigger=Trigger.API, status=Status.QUEUED)
    # As Django's test client does: a request must not close the test's DB connection.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield Token.objects.get_or_create(user=alice)[0].key
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# Job create/replace/patch take ~600 boundary ("coverage") cases each: they get random
# examples only; every other operation gets both.
JOB_WRITES = {"path_regex": r"^/api/v1/jobs/(\{slug\}/)?$", "method": ["POST", "PUT", "PATCH"]}
COMMON = {"deadline": None, "derandomize": True, "suppress_health_check": list(HealthCheck)}


def call(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


@pytest.mark.slow
@schema.exclude(**JOB_WRITES).parametrize()
@settings(max_examples=4, phases=[Phase.explicit, Phase.generate], **COMMON)
def test_the_api_never_errors_and_matches_its_schema(case, token):
    call(case, token)


@schema.include(**JOB_WRITES).parametrize()
@settings(max_examples=15, phases=[Phase.generate], **COMMON)
def test_job_writes_never_error_and_match_the_schema(case, token):
    call(case, token)
