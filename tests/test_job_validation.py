"""Invariant 6: bad scripts and bad settings are refused with a clear message, nothing half-created."""

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile

from scripts_app.models import Job, ScriptVersion
from tests.conftest import script_file


class JobForm(forms.ModelForm):
    class Meta:
        model = Job
        fields = [
            "name",
            "slug",
            "script",
            "script_path",
            "cron",
            "timezone",
            "params_schema",
            "env",
        ]


def submit(**overrides):
    data = {
        "name": "Report",
        "slug": "report",
        "script_path": "",
        "cron": "",
        "timezone": "",
        "params_schema": "{}",
        "env": "{}",
    }
    files = {}
    if "script" in overrides:
        files["script"] = overrides.pop("script")
    data.update(overrides)
    return JobForm(data=data, files=files)


def test_a_valid_upload_is_accepted(db):
    form = submit(script=script_file("def main(data):\n    return 1\n", "report.py"))
    assert form.is_valid(), form.errors


def test_a_file_that_is_not_py_is_refused(db):
    form = submit(script=SimpleUploadedFile("report.sh", b"echo hi"))
    assert not form.is_valid()
    assert form.errors["script"] == ["“report.sh” is not a .py file."]
    assert not Job.objects.exists()


def test_a_syntax_error_is_refused_with_its_line(db):
    form = submit(script=script_file("x = 1\ndef main(data)\n    return 1\n", "bad.py"))
    assert not form.is_valid()
    assert "line 2" in form.errors["script"][0]
    assert not Job.objects.exists() and not ScriptVersion.objects.exists()


def test_an_oversized_script_is_refused(db, settings):
    settings.PARSEQ_MAX_SCRIPT_BYTES = 100
    form = submit(script=script_file("x = 1\n" * 50, "big.py"))
    assert not form.is_valid()
    assert "the limit is 100 bytes" in form.errors["script"][0]


def test_a_job_needs_a_script_or_a_path(db):
    form = submit()
    assert not form.is_valid()
    assert "Upload a .py script" in str(form.errors)


@pytest.mark.parametrize("path", ["../manage.py", "/etc/passwd", "missing.py", "hello.txt"])
def test_a_script_path_outside_parsers_or_missing_is_refused(db, path):
    form = submit(script_path=path)
    assert not form.is_valid()
    assert "script_path" in form.errors


def test_a_bad_cron_is_a_field_error(db):
    form = submit(script_path="hello.py", cron="61 * * * *")
    assert not form.is_valid()
    assert "cron" in form.errors


def test_a_bad_timezone_is_a_field_error(db):
    form = submit(script_path="hello.py", timezone="Mars/Olympus")
    assert not form.is_valid()
    assert form.errors["timezone"] == ["“Mars/Olympus” is not an IANA time zone."]


def test_an_invalid_json_schema_is_refused(db):
    form = submit(script_path="hello.py", params_schema='{"type": "nonsense"}')
    assert not form.is_valid()
    assert "Invalid JSON Schema" in form.errors["params_schema"][0]


def test_env_may_not_override_runner_variables(db):
    form = submit(script_path="hello.py", env='{"PATH": "/tmp"}')
    assert not form.is_valid()
    assert "reserved" in form.errors["env"][0]
