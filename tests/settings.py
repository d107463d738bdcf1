"""Settings for the test suite: the real settings, on a throwaway PostgreSQL cluster.

The suite starts its own PostgreSQL (tests/services/postgres.py) so that
conditional updates, SKIP LOCKED and constraints are tested on the production
database. Without initdb it falls back to SQLite, unless
PARSEQ_REQUIRE_SERVICES=1, where that is an error.
"""

import atexit
import os
import shutil
import tempfile
import warnings

_tmp = tempfile.mkdtemp(prefix="parseq-test-")
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-scripts-must-never-see")
os.environ.setdefault("PARSEQ_DATA_DIR", _tmp)
os.environ.setdefault("PARSEQ_HEARTBEAT_SECONDS", "1")
os.environ.setdefault("PARSEQ_KILL_GRACE", "1")
# No test reaches a package index on the internet: environment tests use the
# wheels tests/package_index.py makes; any other lock finds no index at all.
os.environ.setdefault("PARSEQ_PIP_INDEX_URL", "none")

if not os.environ.get("DATABASE_URL") and os.environ.get("PARSEQ_TEST_DB") != "sqlite":
    from tests.services import postgres

    if postgres.available():
        TEST_POSTGRES = postgres.start_cluster()
        os.environ["DATABASE_URL"] = TEST_POSTGRES.url("postgres")
        os.environ["PARSEQ_TEST_POSTGRES_DIR"] = TEST_POSTGRES.data_dir
    elif os.environ.get("PARSEQ_REQUIRE_SERVICES") == "1":
        raise RuntimeError("initdb/pg_ctl not found and PARSEQ_REQUIRE_SERVICES=1")
    else:
        warnings.warn("PostgreSQL not installed: the suite runs on SQLite", stacklevel=1)

from parseq.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": "test_parseq"}  # noqa: F405
# WhiteNoise looks for collected static files; tests serve none, so give it an empty folder.
STATIC_ROOT = os.path.join(_tmp, "static")  # noqa: F405
os.makedirs(STATIC_ROOT, exist_ok=True)

# A host app with code jobs (tests/test_code_jobs*.py). Its jobs are synced by the tests
# that need them, not at every test database's migrate: other tests count jobs.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.codejobs_app"]  # noqa: F405
PARSEQ_SYNC_JOBS_ON_MIGRATE = False
# A code job's process is a Django of its own: it learns the test database's name (which
# pytest-django gives this process only) from here.
if os.environ.get("PARSEQ_TEST_CHILD_DB"):
    DATABASES["default"]["NAME"] = os.environ["PARSEQ_TEST_CHILD_DB"]  # noqa: F405
# Django's task API on Parseq (scripts_app/tasks_backend/; tests/tasks_app/tasks.py).
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks"]  # noqa: F405
TASKS = {
    "default": {
        "BACKEND": "scripts_app.tasks_backend.ParseqBackend",
        "QUEUES": ["default", "heavy"],
    }
}
