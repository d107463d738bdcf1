"""``python manage.py <slug>`` and ``runjob``: foreground runs that report through the exit code."""

import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import transaction
from django.db.models.signals import post_save

from scripts_app.models import Execution, Status, Trigger


@pytest.fixture(autouse=True)
def _commands_close_connections(transactional_db):
    """Commands close DB connections when they end, so no test transaction may wrap them."""


def manage(*argv: str) -> int:
    try:
        ManagementUtility(["manage.py", *argv]).execute()
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_a_slug_works_as_a_command_and_exits_0_on_success(make_job, capfd):
    make_job("def main(data):\n    print('log line')\n    return {'n': data['n']}\n", slug="hello")
    assert manage("hello", "--params", '{"n": 3}') == 0
    out, err = capfd.readouterr()
    assert "log line" in out and '"n": 3' in out
    run = Execution.objects.get()
    assert (run.status, run.trigger, run.params) == (Status.SUCCEEDED, Trigger.CLI, {"n": 3})


def test_a_failed_run_exits_non_zero(make_job, capfd):
    make_job("raise SystemExit(2)\n", slug="broken")
    assert manage("broken") == 1
    assert "failed" in capfd.readouterr().err
    assert Execution.objects.get().status == Status.FAILED


def test_runjob_refuses_params_that_are_not_json(make_job):
    make_job(slug="hello")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("runjob", "hello", "--params", "{oops")
    assert not Execution.objects.exists()


def test_runjob_refuses_params_that_are_not_an_object(make_job):
    make_job(slug="hello")
    with pytest.raises(CommandError, match="params must be a JSON object"):
        call_command("runjob", "hello", "--params", "[1]")


def test_runjob_names_an_unknown_slug(db):
    with pytest.raises(CommandError, match="no job with slug 'ghost'"):
        call_command("runjob", "ghost")


def test_an_unknown_command_that_is_no_slug_is_still_unknown(db, capfd):
    assert manage("ghost") == 1
    assert "Unknown command: 'ghost'" in capfd.readouterr().err


def test_a_job_cannot_take_the_slug_of_a_builtin_command(make_job):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="manage.py command"):
        make_job(slug="migrate")


def test_manage_py_slug_runs_in_a_real_process(make_job, database_url, settings):
    make_job("def main(data):\n    return {'ok': True}\n", slug="hello")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "SECRET_KEY": "x" * 50,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "hello"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert '"ok": true' in done.stdout
    assert Execution.objects.get().status == Status.SUCCEEDED


def test_a_foreground_run_is_claimed_before_any_relay_can_see_it_queued(make_job, capfd):
    make_job(slug="fg")
    seen = []

    def relay_looks_after_commit(sender, instance, created, **kwargs):
        if created:
            pk = instance.pk
            transaction.on_commit(lambda: seen.append(Execution.objects.get(pk=pk).status))

    post_save.connect(relay_looks_after_commit, sender=Execution)
    try:
        assert manage("fg") == 0
    finally:
        post_save.disconnect(relay_looks_after_commit, sender=Execution)
    assert seen == [Status.RUNNING]
    assert Execution.objects.get().status == Status.SUCCEEDED


def test_call_command_runs_a_job_from_code_with_params_and_returns_its_result(make_job):
    make_job("def main(data):\n    return {'twice': data['n'] * 2}\n", slug="doubler")
    output = call_command("doubler", params={"n": 21})
    assert json.loads(output) == {"twice": 42}
    run = Execution.objects.get()
    assert (run.status, run.trigger, run.params) == (Status.SUCCEEDED, Trigger.CLI, {"n": 21})


def test_call_command_raises_command_error_when_the_run_fails(make_job):
    make_job("raise RuntimeError('nope')\n", slug="broken")
    with pytest.raises(CommandError, match="failed.*RuntimeError: nope"):
        call_command("broken")


def test_call_command_still_refuses_names_that_are_neither_command_nor_job(db):
    with pytest.raises(CommandError, match="Unknown command: 'ghost'"):
        call_command("ghost")


def test_a_slug_command_can_name_who_is_mailed(make_job):
    make_job(slug="mailed")
    assert manage("mailed", "--email", "ann@example.com", "--email", "bo@example.com") == 0
    assert Execution.objects.get().notify_emails == "ann@example.com, bo@example.com"


def test_a_slug_command_refuses_a_bad_address_before_running(make_job, capfd):
    make_job(slug="mailed")
    assert manage("mailed", "--email", "not-an-address") == 1
    assert "is not an e-mail address" in capfd.readouterr().err
    assert not Execution.objects.exists()


def test_slugs_are_not_listed_as_commands_and_do_not_hide_real_ones(make_job):
    from django.core.management import get_commands

    make_job(slug="listed")
    assert "listed" not in get_commands() and "migrate" in get_commands()
