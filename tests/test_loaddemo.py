"""``manage.py loaddemo``: the demo jobs of parsers/demo_jobs.json, created once, runnable at once."""

from __future__ import annotations

import gzip
import time
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from scripts_app.envvars import database_from_url
from scripts_app.jobs import demo, secrets
from scripts_app.jobs.demo import demo_specs, load_demo_jobs, url_for
from scripts_app.models import Job, JobSecret, NotifyOn, Status, Trigger
from scripts_app.runs import dispatch, waiting
from scripts_app.validators import params_errors
from tests.services import need

OFFLINE = {"hello", "factorial", "fibonacci"}
NETWORK = {"cbr-rates", "weather"}


def loaddemo() -> str:
    out = StringIO()
    call_command("loaddemo", stdout=out)
    return out.getvalue()


# --- the specs ------------------------------------------------------------------------


def test_the_demo_file_describes_every_parser_in_parsers():
    assert {spec["slug"] for spec in demo_specs()} == OFFLINE | NETWORK | {"db-backup"}


@pytest.mark.parametrize("spec", demo_specs(), ids=lambda spec: spec["slug"])
def test_every_demo_job_is_documented_scheduled_and_its_defaults_fit_its_schema(spec):
    assert spec["description"]
    assert spec["cron"] and spec["timezone"]
    assert spec["params_schema"]["type"] == "object"
    assert params_errors(spec["default_params"], spec["params_schema"]) == []


def test_network_parsers_are_disabled_and_take_their_base_url_as_a_param():
    for spec in demo_specs():
        if spec["slug"] in NETWORK:
            assert spec["enabled"] is False, spec["slug"]
            assert spec["default_params"]["base_url"].startswith("https://"), spec["slug"]
        else:
            assert spec["enabled"] is True, spec["slug"]


# --- loading --------------------------------------------------------------------------


def test_it_creates_the_demo_jobs_then_changes_nothing_the_second_time(db):
    first = loaddemo()
    snapshot = list(Job.objects.order_by("slug").values())

    second = loaddemo()

    assert first.count("created demo job") == len(demo_specs())
    assert "created" not in second
    assert "already present: hello, factorial" in second
    assert list(Job.objects.order_by("slug").values()) == snapshot
    assert JobSecret.objects.count() == 1


def test_it_never_overwrites_a_demo_job_an_operator_changed(db):
    load_demo_jobs()
    Job.objects.filter(slug="weather").update(enabled=True, default_params={"city": "Kazan"})

    loaded = load_demo_jobs()

    assert loaded.created == []
    weather = Job.objects.get(slug="weather")
    assert weather.enabled and weather.default_params == {"city": "Kazan"}


def test_it_creates_only_the_demo_jobs_that_are_missing(db):
    load_demo_jobs()
    Job.objects.filter(slug="fibonacci").delete()

    loaded = load_demo_jobs()

    assert loaded.created == ["fibonacci"]
    assert len(loaded.kept) == len(demo_specs()) - 1


def test_the_backup_job_gets_the_servers_database_as_a_secret_and_mails_the_admins(db):
    load_demo_jobs()

    job = Job.objects.get(slug="db-backup")
    assert secrets.secret_names(job) == ["BACKUP_DATABASE_URL"]
    stored = JobSecret.objects.get(job=job).ciphertext
    assert "postgres" not in stored and "sqlite" not in stored  # encrypted at rest
    assert secrets.secret_env(job)["BACKUP_DATABASE_URL"].split("://")[0] in ("postgres", "sqlite")
    assert job.env == {}  # not a plain, visible variable
    assert job.notify_on == NotifyOn.ALWAYS
    assert job.notify_emails == ""  # empty means settings.ADMINS


def test_a_sqlite_backup_job_is_not_made_where_sandboxed_scripts_cannot_see_the_file(
    db, monkeypatch, settings
):
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/parseq/var/db.sqlite3"}
    monkeypatch.setitem(demo.SECRET_SOURCES, "database_url", lambda: url_for(sqlite))
    settings.PARSEQ_SANDBOX = "bwrap"  # as `make run` decides where bubblewrap works
    need("bwrap", "the sandbox decides whether the backup job can read the file")
    err = StringIO()

    call_command("loaddemo", stdout=StringIO(), stderr=err)

    assert err.getvalue() == f"skipped demo job db-backup: {demo.HIDDEN_FILE}\n"
    assert not Job.objects.filter(slug="db-backup").exists()
    settings.PARSEQ_SANDBOX = "off"  # unsandboxed scripts see it: the job is made
    call_command("loaddemo", stdout=StringIO(), stderr=StringIO())
    assert Job.objects.filter(slug="db-backup").exists()


def test_a_postgres_backup_job_is_made_sandboxed_or_not(db):
    if not demo.database_url().startswith("postgres"):
        pytest.skip("the suite runs on SQLite here (PostgreSQL is not installed)")
    loaded = load_demo_jobs(server_files_visible=False)
    assert "db-backup" in loaded.created and loaded.skipped == {}


def test_the_backup_job_is_skipped_with_a_reason_on_an_engine_it_cannot_dump(db, monkeypatch):
    mysql = {"ENGINE": "django.db.backends.mysql", "NAME": "parseq"}
    monkeypatch.setitem(demo.SECRET_SOURCES, "database_url", lambda: url_for(mysql))
    err = StringIO()

    call_command("loaddemo", stdout=StringIO(), stderr=err)

    assert err.getvalue() == (
        "skipped demo job db-backup: no backup URL for the database engine "
        "django.db.backends.mysql\n"
    )
    assert not Job.objects.filter(slug="db-backup").exists()
    assert Job.objects.count() == len(demo_specs()) - 1


# --- the database URL the backup job gets --------------------------------------------


def test_a_postgres_url_round_trips_through_database_from_url():
    conf = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "parseq",
        "USER": "app user",
        "PASSWORD": "p@ss:w/rd?#",
        "HOST": "db.internal",
        "PORT": "6432",
        "OPTIONS": {"sslmode": "require"},
    }

    url = url_for(conf)

    credentials = "app%20user:p%40ss%3Aw%2Frd%3F%23"
    assert url == f"postgres://{credentials}@db.internal:6432/parseq?sslmode=require"
    parsed = database_from_url(url)
    for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS"):
        assert parsed[key] == conf[key], key


def test_a_unix_socket_host_goes_in_the_query():
    conf = {"ENGINE": "django.db.backends.postgresql", "NAME": "parseq", "USER": "parseq"}

    assert url_for({**conf, "HOST": "/run/postgresql"}) == (
        "postgres://parseq@/parseq?host=%2Frun%2Fpostgresql"
    )


def test_a_sqlite_database_becomes_an_absolute_sqlite_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    url = url_for({"ENGINE": "django.db.backends.sqlite3", "NAME": "var/db.sqlite3"})

    assert url == f"sqlite:///{tmp_path}/var/db.sqlite3"


def test_an_unsupported_engine_is_refused():
    with pytest.raises(ValueError, match="no backup URL for the database engine"):
        url_for({"ENGINE": "django.db.backends.mysql", "NAME": "parseq"})


# --- running them ---------------------------------------------------------------------


def run_now(slug: str, params: dict | None = None):
    execution = dispatch.trigger(Job.objects.get(slug=slug), params=params, trigger=Trigger.ADMIN)
    return waiting.wait_for(execution, 30)


def test_the_offline_demo_jobs_run_at_once_after_loaddemo(worker):
    load_demo_jobs()

    results = {slug: run_now(slug) for slug in sorted(OFFLINE)}

    for slug, execution in results.items():
        assert execution.status == Status.SUCCEEDED, (slug, execution.error)
    assert results["hello"].result == {"greeting": "Hello, World!", "processed": 42}
    assert results["factorial"].result["factorial"] == "3628800"
    assert results["fibonacci"].result["value"] == "832040"


def wait_until_mailed(execution, seconds: float = 10):
    """The mail goes out just after the final status is written: wait for it too."""
    deadline = time.monotonic() + seconds
    while execution.notified_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
        execution.refresh_from_db()
    return execution


def test_the_backup_demo_job_dumps_this_database_and_mails_the_dump(worker, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    load_demo_jobs()
    job = Job.objects.get(slug="db-backup")
    if secrets.secret_env(job)["BACKUP_DATABASE_URL"].startswith("postgres"):
        need("pg_dump", "the backup job dumps PostgreSQL with it")

    execution = wait_until_mailed(run_now("db-backup"))

    assert execution.status == Status.SUCCEEDED, execution.error
    dump = execution.artifacts.get(name=execution.result["file"])
    with dump.file.open("rb") as handle:
        data = gzip.decompress(handle.read())
    assert b"scripts_app_job" in data  # this very database, demo jobs included
    assert b"Database backup" in data
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"]
    attached = [name for name, _content, _type in message.attachments]
    assert execution.result["file"] in attached
