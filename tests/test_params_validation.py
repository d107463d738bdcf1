"""Params are checked against the job's JSON Schema before anything is queued, every
error is named, and dispatch, the CLI and /scripts/<slug>/ agree on the verdict."""

import json

import pytest
from django.core.management import CommandError, call_command

from scripts_app.errors import InvalidParams
from scripts_app.management.commands.runjob import SlugCommand
from scripts_app.models import Execution, Trigger
from scripts_app.runs import dispatch

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "units": {"enum": ["metric", "imperial"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
BAD = {"days": 40, "units": "kelvin", "extra": 1}
EXPECTED_PATHS = {"$", "$.days", "$.units"}  # "$": required city and additionalProperties


@pytest.fixture
def weather(make_job):
    return make_job(slug="weather", params_schema=SCHEMA, default_params={"units": "metric"})


def test_dispatch_names_every_error_and_queues_nothing(weather):
    with pytest.raises(InvalidParams) as caught:
        dispatch.trigger(weather, params=BAD, trigger=Trigger.API)
    errors = caught.value.errors
    assert {e["path"] for e in errors} == EXPECTED_PATHS
    messages = " ".join(e["message"] for e in errors)
    for word in ["'city' is a required property", "40", "kelvin", "'extra'"]:
        assert word in messages
    assert not Execution.objects.exists()


@pytest.mark.parametrize("params", [[1, 2], "text", 5])
def test_params_that_are_not_an_object_are_refused(weather, params):
    with pytest.raises(InvalidParams, match="must be a JSON object"):
        dispatch.trigger(weather, params=params, trigger=Trigger.API)
    assert not Execution.objects.exists()


def test_the_http_trigger_answers_400_with_every_error(api, weather):
    response = api.post("/scripts/weather/", {"data": BAD}, format="json")
    assert response.status_code == 400
    assert {e["path"] for e in response.json()["errors"]} == EXPECTED_PATHS
    assert not Execution.objects.exists()


def test_the_job_page_form_reports_the_errors_and_queues_nothing(weather, alice):
    from django.test import Client

    client = Client()
    client.force_login(alice)
    response = client.post("/scripts/weather/", {"data": json.dumps(BAD)}, follow=True)
    text = response.content.decode()
    assert "Not started" in text and "kelvin" in text
    assert not Execution.objects.exists()


@pytest.mark.parametrize("command", ["runjob", "slug"])
def test_the_cli_names_every_error_and_queues_nothing(weather, command):
    args = ["weather"] if command == "runjob" else []
    target = "runjob" if command == "runjob" else SlugCommand(slug="weather")
    with pytest.raises(CommandError) as caught:
        call_command(target, *args, "--params", json.dumps(BAD))
    for path in ["$.days", "$.units", "city"]:
        assert path in str(caught.value)
    assert not Execution.objects.exists()


def test_valid_params_are_merged_over_the_defaults_everywhere(api, weather):
    via_dispatch = dispatch.trigger(weather, params={"city": "Oslo"}, trigger=Trigger.API)
    response = api.post("/scripts/weather/", {"data": {"city": "Rome", "days": 3}}, format="json")
    assert response.status_code == 202
    via_http = Execution.objects.get(pk=response.json()["id"])
    assert via_dispatch.params == {"units": "metric", "city": "Oslo"}
    assert via_http.params == {"units": "metric", "city": "Rome", "days": 3}
