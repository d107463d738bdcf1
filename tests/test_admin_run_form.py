"""The "Run now" page: a form generated from the job's params schema, checked by dispatch."""

from __future__ import annotations

import json

import pytest
from django import forms
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from scripts_app.admin.forms import EMAIL_FIELD, RAW_FIELD, RunParamsForm, property_of
from scripts_app.models import Execution, Job, Trigger

SCHEMA = {
    "type": "object",
    "required": ["city", "days"],
    "properties": {
        "city": {"type": "string", "title": "City name", "description": "Where."},
        "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3},
        "scale": {"type": "number"},
        "units": {"enum": ["metric", "imperial"], "default": "metric"},
        "level": {"enum": [1, 2, 3]},
        "verbose": {"type": "boolean", "default": True},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}},
        "extra": {"type": "object"},
        "note": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}


def run_url(job) -> str:
    return reverse("admin:scripts_app_job_run", args=[job.pk])


def client_as(user: User) -> Client:
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client = Client()
    client.force_login(user)
    return client


class TestGeneratedFields:
    """Building the form needs no database: the job is never saved."""

    def form(self, schema=SCHEMA, defaults=None, data=None) -> RunParamsForm:
        return RunParamsForm(
            Job(slug="j", params_schema=schema, default_params=defaults or {}), data
        )

    def test_it_makes_one_field_per_property_with_the_right_type(self):
        fields = self.form().fields
        assert isinstance(fields["city"], forms.CharField)
        assert isinstance(fields["days"], forms.IntegerField)
        assert isinstance(fields["scale"], forms.FloatField)
        assert isinstance(fields["units"], forms.ChoiceField)
        assert isinstance(fields["verbose"], forms.BooleanField)
        assert isinstance(fields["tags"], forms.MultipleChoiceField)
        assert isinstance(fields["note"], forms.CharField)
        assert isinstance(fields["extra"], forms.JSONField)
        assert RAW_FIELD in fields

    def test_required_titles_descriptions_and_defaults_come_from_the_schema(self):
        fields = self.form(defaults={"city": "Oslo"}).fields
        assert fields["city"].required and fields["days"].required
        assert not fields["scale"].required
        assert fields["city"].label == "City name"
        assert fields["city"].help_text == "Where."
        assert fields["city"].initial == "Oslo"  # the job's default wins over the schema's
        assert fields["days"].initial == 3
        assert [c for c, _ in fields["units"].choices] == ["", "metric", "imperial"]

    def test_it_turns_typed_values_into_json_params(self):
        form = self.form(
            data={
                "city": "Oslo",
                "days": "5",
                "scale": "1.5",
                "units": "imperial",
                "level": "2",
                "tags": ["a", "c"],
                "extra": '{"k": [1]}',
            }
        )
        assert form.is_valid(), form.errors
        assert form.params() == {
            "city": "Oslo",
            "days": 5,
            "scale": 1.5,
            "units": "imperial",
            "level": 2,
            "verbose": False,
            "tags": ["a", "c"],
            "extra": {"k": [1]},
        }

    def test_it_refuses_text_in_a_number_field(self):
        form = self.form(data={"city": "Oslo", "days": "many"})
        assert not form.is_valid()
        assert "days" in form.errors

    def test_raw_json_replaces_the_fields_and_must_be_an_object(self):
        form = self.form(data={RAW_FIELD: '{"city": "Rome", "days": 2}'})
        assert form.is_valid(), form.errors
        assert form.params() == {"city": "Rome", "days": 2}
        form = self.form(data={RAW_FIELD: "[1, 2]"})
        assert not form.is_valid()
        assert "JSON object" in str(form.errors[RAW_FIELD])
        form = self.form(data={RAW_FIELD: "{oops"})
        assert not form.is_valid()
        assert "Not valid JSON" in str(form.errors[RAW_FIELD])

    def test_a_job_without_schema_gets_only_the_raw_json_field(self):
        form = self.form(schema={}, defaults={"n": 1})
        assert list(form.fields) == [RAW_FIELD, EMAIL_FIELD]
        assert form.raw_only
        assert json.loads(form.fields[RAW_FIELD].initial) == {"n": 1}

    def test_schema_paths_point_at_their_top_level_property(self):
        assert property_of("$.days") == "days"
        assert property_of("$['odd key'][0]") == "odd key"
        assert property_of("$") is None


@pytest.mark.django_db
class TestRunPage:
    def test_a_user_without_the_run_permission_gets_403(self, charlie, make_job):
        job = make_job(slug="a-job")
        charlie.user_permissions.add(Permission.objects.get(codename="view_job"))
        client = client_as(charlie)
        assert client.get(run_url(job)).status_code == 403
        assert client.post(run_url(job), {RAW_FIELD: "{}"}).status_code == 403
        assert not Execution.objects.exists()

    def test_an_anonymous_visitor_is_sent_to_the_login_page(self, make_job):
        job = make_job(slug="a-job")
        response = Client().post(run_url(job), {RAW_FIELD: "{}"})
        assert response.status_code == 302 and "/login/" in response["Location"]
        assert not Execution.objects.exists()

    def test_it_shows_the_generated_form(self, bob, make_job):
        job = make_job(slug="weather", params_schema=SCHEMA)
        html = client_as(bob).get(run_url(job)).content.decode()
        assert 'name="city"' in html and 'name="days"' in html and 'value="3"' in html
        assert 'name="_raw_json"' in html

    def test_schema_errors_become_field_errors_and_nothing_is_queued(self, bob, make_job):
        job = make_job(slug="weather", params_schema=SCHEMA)
        response = client_as(bob).post(run_url(job), {"city": "Oslo", "days": "12"})
        assert response.status_code == 200
        form = response.context["form"]
        assert "12 is greater than the maximum of 7" in form.errors["days"][0]
        assert "Not started" in response.content.decode()
        assert not Execution.objects.exists()

    def test_raw_json_schema_errors_are_shown_on_the_json_field(self, bob, make_job):
        job = make_job(slug="weather", params_schema=SCHEMA)
        response = client_as(bob).post(run_url(job), {RAW_FIELD: '{"city": 1, "days": 2}'})
        assert response.status_code == 200
        assert "$.city: 1 is not of type 'string'" in response.context["form"].errors[RAW_FIELD]
        assert not Execution.objects.exists()

    def test_valid_params_queue_a_run_and_open_its_page(self, bob, make_job):
        job = make_job(slug="weather", params_schema=SCHEMA)
        response = client_as(bob).post(
            run_url(job), {"city": "Oslo", "days": "2", "units": "metric", "verbose": "on"}
        )
        execution = Execution.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse(
            "admin:scripts_app_execution_change", args=[execution.pk]
        )
        assert execution.trigger == Trigger.ADMIN
        assert execution.triggered_by == bob
        assert execution.params == {"city": "Oslo", "days": 2, "units": "metric", "verbose": True}

    def test_an_unknown_job_is_404(self, bob):
        assert client_as(bob).get("/admin/scripts_app/job/999999/run/").status_code == 404
