"""One error hierarchy, one HTTP answer per error: the API and ``/scripts/<slug>/`` alike."""

import pytest

from scripts_app import errors
from scripts_app.models import Execution, Job

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


def every_error() -> list[type[errors.ParseqError]]:
    found, todo = [], [errors.ParseqError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def example(kind: type[errors.ParseqError]) -> errors.ParseqError:
    if kind is errors.InvalidParams:
        return kind([{"path": "$.n", "message": "bad"}])
    if kind is errors.RangeNotSatisfiable:
        return kind(10)
    return kind("what went wrong")


@pytest.mark.parametrize("kind", every_error(), ids=lambda kind: kind.__name__)
def test_every_error_answers_a_4xx_with_its_message(kind):
    error = example(kind)
    assert 400 <= error.http_status < 500
    assert error.http_body()["detail"]
    assert all(isinstance(value, str) for value in error.http_headers().values())


def test_every_error_lives_in_the_errors_module():
    assert {kind.__module__ for kind in every_error()} == {"scripts_app.errors"}


@pytest.fixture
def unrunnable(make_job):
    job = make_job(slug="empty")
    Job.objects.filter(pk=job.pk).update(script="")  # its upload is gone
    return job


def test_the_api_and_the_trigger_view_answer_an_unrunnable_job_alike(api, unrunnable):
    from_api = api.post("/api/v1/jobs/empty/run/", {"data": {}}, format="json")
    from_view = api.post("/scripts/empty/", {"data": {}}, format="json")
    assert from_api.status_code == from_view.status_code == 409
    assert from_api.json() == from_view.json() == {"detail": "empty has no script"}
    assert not Execution.objects.exists()


def test_the_trigger_view_answers_bad_params_without_the_api_settings(api, make_job, settings):
    make_job(slug="typed", params_schema=SCHEMA)
    # A host project that never set EXCEPTION_HANDLER gets the same answer.
    settings.REST_FRAMEWORK = {
        key: value for key, value in settings.REST_FRAMEWORK.items() if key != "EXCEPTION_HANDLER"
    }
    response = api.post("/scripts/typed/", {"data": {"n": "five"}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "$.n", "message": "'five' is not of type 'integer'"}
    ]


def test_the_job_page_form_reports_an_unrunnable_job_as_a_message(alice, client, unrunnable):
    client.force_login(alice)
    response = client.post("/scripts/empty/", {"data": "{}"}, follow=True)
    assert response.status_code == 200
    assert "Not started: empty has no script" in response.content.decode()
    assert not Execution.objects.exists()
