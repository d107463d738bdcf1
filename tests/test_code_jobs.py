"""Declaring code jobs (@job, BaseJob) and syncing them into Job rows (syncjobs)."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from scripts_app.code import registry, sync
from scripts_app.models import Execution, Job, JobKind, Trigger
from scripts_app.runs import records
from tests.codejobs_app import jobs as app_jobs


def target(data):
    return data


def other_target(data):
    return data


@pytest.fixture
def declared():
    """Slugs a test declares are forgotten after it."""
    slugs = []
    yield slugs
    for slug in slugs:
        registry.forget(slug)


def test_importing_scripts_app_loads_no_django_and_exports_job_lazily():
    code = (
        "import sys, scripts_app; assert 'django' not in sys.modules, 'django loaded';"
        "from scripts_app import runtime; assert 'django' not in sys.modules;"
        "import django; django.setup(); from scripts_app import job, BaseJob;"
        "print(job.__module__, BaseJob.__name__)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"}
    import os

    env.update({k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "PARSEQ_DATA_DIR")})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["scripts_app.code.registry", "BaseJob"]


def test_the_apps_jobs_modules_are_discovered():
    found = registry.registered()
    assert found["write-note"].entrypoint == "tests.codejobs_app.jobs:write_note"
    assert found["stubborn"].entrypoint == "tests.codejobs_app.jobs:Stubborn"
    assert found["write-note"].module_file == app_jobs.__file__
    assert found["stubborn"].settings == {
        "slug": "stubborn",
        "timeout": 2,
        "enabled": True,
        "name": "Stubborn",
        "description": app_jobs.Stubborn.__doc__.strip().replace("\n    ", "\n"),
    }


def test_it_rejects_a_bad_cron_naming_the_job(declared):
    with pytest.raises(ImproperlyConfigured) as error:
        registry.job(slug="bad-cron", cron="61 * * * *")(target)
    assert "'bad-cron'" in str(error.value)
    assert "tests.test_code_jobs:target" in str(error.value)
    assert "cron" in str(error.value)
    assert "bad-cron" not in registry.registered()


def test_it_rejects_a_bad_params_schema_naming_the_job():
    with pytest.raises(ImproperlyConfigured, match=r"'bad-schema'.*params_schema"):
        registry.job(slug="bad-schema", params_schema={"type": "nope"})(target)


def test_it_rejects_an_unknown_setting_and_a_missing_slug():
    with pytest.raises(TypeError, match="tests.test_code_jobs:target: unknown setting"):
        registry.job(slug="x-1", script="a.py")(target)
    with pytest.raises(ImproperlyConfigured, match="give it a slug"):
        registry.job()(target)


def test_it_rejects_a_slug_taken_by_a_command_or_another_code_job(declared):
    with pytest.raises(ImproperlyConfigured, match="manage.py command"):
        registry.job(slug="migrate")(target)
    registry.job(slug="twice")(target)
    declared.append("twice")
    with pytest.raises(ImproperlyConfigured) as error:
        registry.job(slug="twice")(other_target)
    assert "tests.test_code_jobs:target" in str(error.value)
    assert "tests.test_code_jobs:other_target" in str(error.value)


def test_a_base_job_without_a_slug_is_abstract_and_settings_are_inherited(declared):
    class Nightly(registry.BaseJob):
        cron = "0 3 * * *"
        timezone = "Europe/Moscow"

    assert not any(spec.entrypoint.endswith("Nightly") for spec in registry.registered().values())
    with pytest.raises(ImproperlyConfigured, match="top level"):

        class Report(Nightly):  # declared inside a function: no worker could import it
            slug = "report"


def test_repeat_every_may_be_given_in_seconds_and_needs_a_start(declared):
    with pytest.raises(ImproperlyConfigured, match="start_at: An interval schedule needs"):
        registry.job(slug="every-minute", repeat_every=60)(target)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    registry.job(slug="every-minute", start_at=start, repeat_every=60)(target)
    declared.append("every-minute")
    assert registry.registered()["every-minute"].settings["repeat_every"] == timedelta(seconds=60)


def test_syncjobs_creates_code_jobs_and_twice_changes_nothing(db):
    call_command("syncjobs", stdout=open("/dev/null", "w"))
    job = Job.objects.get(slug="write-note")
    assert job.kind == JobKind.CODE
    assert job.entrypoint == "tests.codejobs_app.jobs:write_note"
    assert job.params_schema["properties"]["text"] == {"type": "string"}
    assert job.default_params == {"text": "hello"}
    assert job.description == "Writes a Note with the host app's model."
    assert not job.script and not job.script_path
    before = list(Job.objects.order_by("pk").values())
    report = sync.sync_jobs()
    assert report.created == report.updated == report.disabled == []
    assert list(Job.objects.order_by("pk").values()) == before  # updated_at included


def test_code_settings_win_on_sync_but_the_operators_schedule_and_enabled_stay(db, declared):
    registry.job(slug="nightly", cron="0 3 * * *", timeout=60)(target)
    declared.append("nightly")
    sync.sync_jobs()
    job = Job.objects.get(slug="nightly")
    job.cron, job.enabled, job.timeout = "30 4 * * *", False, 5  # edits in the admin
    job.save()
    registry.forget("nightly")
    registry.job(slug="nightly", cron="0 2 * * *", timeout=120)(target)  # a new release
    report = sync.sync_jobs()
    assert report.updated == ["nightly"]
    job.refresh_from_db()
    assert (job.cron, job.enabled, job.timeout) == ("30 4 * * *", False, 120)
    sync.sync_jobs(reset_operator_fields=True)
    job.refresh_from_db()
    assert (job.cron, job.enabled) == ("0 2 * * *", True)


def test_a_job_gone_from_the_code_is_disabled_and_keeps_its_runs(db, declared):
    registry.job(slug="short-lived", cron="*/5 * * * *")(target)
    declared.append("short-lived")
    sync.sync_jobs()
    job = Job.objects.get(slug="short-lived")
    assert job.next_run_at is not None
    records.new_run(job, trigger=Trigger.CLI).save()
    registry.forget("short-lived")
    report = sync.sync_jobs()
    assert report.disabled == ["short-lived"]
    job.refresh_from_db()
    assert job.enabled is False and job.next_run_at is None
    assert Execution.objects.filter(job=job).count() == 1
    assert sync.sync_jobs().disabled == []  # already disabled: nothing to do


def test_a_slug_clash_with_an_uploaded_job_names_both(make_job):
    make_job(slug="write-note", name="Uploaded notes")
    with pytest.raises(CommandError) as error:
        call_command("syncjobs")
    message = str(error.value)
    assert "tests.codejobs_app.jobs:write_note" in message
    assert "“Uploaded notes”" in message and "'write-note'" in message
    assert Job.objects.get(slug="write-note").kind == JobKind.SCRIPT  # nothing changed
    assert not Job.objects.filter(kind=JobKind.CODE).exists()


def test_migrate_syncs_code_jobs(db, settings):
    settings.PARSEQ_SYNC_JOBS_ON_MIGRATE = True
    call_command("migrate", verbosity=0)
    assert Job.objects.filter(slug="write-note", kind=JobKind.CODE).exists()


def test_migrating_back_before_code_jobs_does_not_sync(transactional_db, settings):
    settings.PARSEQ_SYNC_JOBS_ON_MIGRATE = True
    try:
        call_command("migrate", "scripts_app", "0004", verbosity=0)  # no kind/entrypoint
    finally:
        call_command("migrate", verbosity=0)
    assert Job.objects.filter(slug="write-note", kind=JobKind.CODE).exists()  # back: synced


def test_a_job_without_a_docstring_has_no_description():
    spec = registry.registered()["code-quiet"]
    assert "description" not in spec.settings
    assert spec.settings["name"] == "Quiet"


def test_default_names_read_as_words():
    assert registry.registered()["write-note"].settings["name"] == "Write note"
    assert registry._default_name(type("MakeReport", (), {}), "x") == "Make report"
