"""pytest fixtures for the real services. One fixture per service."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def database_url(transactional_db) -> str:
    """A DATABASE_URL other processes can use to see this test's (committed) data."""
    if connection.vendor != "postgresql":
        from tests.services import services_required

        if services_required():
            pytest.fail("this test needs PostgreSQL")
        pytest.skip("this test needs PostgreSQL (initdb not installed)")
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture(scope="session")
def postgres_server():
    """The suite's PostgreSQL cluster (tests/settings.py started it), e.g. to restart it."""
    from django.conf import settings

    server = getattr(settings, "TEST_POSTGRES", None)
    if server is None:
        pytest.skip("the suite is not running on its own PostgreSQL cluster")
    return server
