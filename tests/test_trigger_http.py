"""``/scripts/<slug>/``: POST starts a run (202 or, with ?wait, the outcome); GET never does."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scripts_app.models import Execution, Status
from tests.conftest import client_for

HELLO = "def main(data):\n    return {'greeting': 'Hello, ' + data.get('name', 'World') + '!'}\n"


@pytest.fixture
def hello(make_job):
    return make_job(HELLO, slug="hello")


def test_a_trigger_without_credentials_is_refused(anon, hello):
    response = anon.post("/scripts/hello/", {"data": {}}, format="json")
    assert response.status_code == 401
    assert not Execution.objects.exists()


def test_a_user_without_the_run_permission_is_forbidden(charlie, hello):
    response = client_for(charlie).post("/scripts/hello/", {"data": {}}, format="json")
    assert response.status_code == 403
    assert not Execution.objects.exists()


def test_an_unknown_slug_is_404(api, db):
    response = api.post("/scripts/nope/", {"data": {}}, format="json")
    assert response.status_code == 404


def test_it_records_the_run_and_answers_202_with_a_pointer(bob, hello):
    response = client_for(bob).post("/scripts/hello/", {"data": {"name": "Ann"}}, format="json")
    assert response.status_code == 202
    body = response.json()
    run = Execution.objects.get()
    assert body == {
        "id": run.pk,
        "status": "queued",
        "url": f"http://testserver/api/v1/executions/{run.pk}/",
    }
    assert run.params == {"name": "Ann"}
    assert run.trigger == "http"
    assert run.triggered_by == bob


def test_an_empty_body_means_no_params(api, hello):
    response = api.post("/scripts/hello/", content_type="application/json")
    assert response.status_code == 202
    assert Execution.objects.get().params == {}


def test_a_token_authenticates_a_curl_trigger(alice, hello):
    token = Token.objects.create(user=alice)
    client = APIClient()
    response = client.post(
        "/scripts/hello/",
        '{"data": {}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    "body",
    ['{"data": [1, 2]}', '{"data": "x"}', "[1]", "not json"],
)
def test_params_that_are_not_a_json_object_are_400(api, hello, body):
    response = api.post("/scripts/hello/", body, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Execution.objects.exists()


def test_params_failing_the_schema_are_400_with_every_error(api, make_job):
    make_job(
        HELLO,
        slug="typed",
        params_schema={
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
        },
    )
    response = api.post("/scripts/typed/", {"data": {"n": "x"}}, format="json")
    assert response.status_code == 400
    paths = sorted(e["path"] for e in response.json()["errors"])
    assert paths == ["$", "$.n"]
    assert not Execution.objects.exists()


def test_a_bad_wait_value_is_400_and_queues_nothing(api, hello):
    response = api.post("/scripts/hello/?wait=soon", {"data": {}}, format="json")
    assert response.status_code == 400
    assert not Execution.objects.exists()


def test_wait_answers_with_the_result_when_the_run_ends_in_time(worker, alice, hello):
    response = client_for(alice).post(
        "/scripts/hello/?wait=15", {"data": {"name": "World"}}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "succeeded"
    assert body["result"] == {"greeting": "Hello, World!"}
    assert body["execution_time"] >= 0


def test_wait_answers_202_when_the_run_is_still_going(worker, alice, make_job):
    make_job("import time\ntime.sleep(5)\n", slug="slow")
    response = client_for(alice).post("/scripts/slow/?wait=0.5", {"data": {}}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] in {"queued", "running"}


def test_a_get_shows_the_job_and_never_starts_a_run(hello, alice):
    client = APIClient()
    client.force_login(alice)
    response = client.get("/scripts/hello/")
    assert response.status_code == 200
    assert b"Hello" in response.content and b"run-button" in response.content
    assert not Execution.objects.exists()


def test_a_get_without_login_goes_to_the_admin_login_and_comes_back_after_it(hello, alice):
    client = APIClient()
    response = client.get("/scripts/hello/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/scripts/hello/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'name="next" value="/scripts/hello/"' in page.content
    logged_in = client.post(
        response["Location"],
        {"username": "alice", "password": "password", "next": "/scripts/hello/"},
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == "/scripts/hello/"
    assert b"run-button" in client.get("/scripts/hello/").content


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_the_trailing_slash_is_optional_for_every_method(api, hello, method):
    with_slash = getattr(api, method)("/scripts/hello/", {"data": {}}, format="json")
    without = getattr(api, method)("/scripts/hello", {"data": {}}, format="json")
    assert without.status_code == with_slash.status_code < 500
    assert without.status_code not in (301, 302, 308)


def test_a_post_without_the_trailing_slash_keeps_its_body_under_debug(api, hello, settings):
    settings.DEBUG = True
    response = api.post("/scripts/hello", {"data": {"name": "Slash"}}, format="json")
    assert response.status_code == 202
    assert Execution.objects.get().params == {"name": "Slash"}


def test_a_run_can_name_who_is_mailed_when_it_ends(api, hello):
    body = {"data": {}, "email": ["ann@example.com", "bo@example.com"]}
    assert api.post("/scripts/hello/", body, format="json").status_code == 202
    assert Execution.objects.get().notify_emails == "ann@example.com, bo@example.com"


@pytest.mark.parametrize("email", ["ann@", ["ok@example.com", "not an address"], 42])
def test_bad_recipients_are_400_and_queue_nothing(api, hello, email):
    response = api.post("/scripts/hello/", {"data": {}, "email": email}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    assert not Execution.objects.exists()


def test_the_run_button_starts_a_run_with_the_form_params(hello, alice):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(alice)
    response = client.post(
        "/scripts/hello/", {"data": '{"name": "Form"}', "email": "form@example.com"}
    )
    assert response.status_code == 303
    run = Execution.objects.get()
    assert run.params == {"name": "Form"} and run.status == Status.QUEUED
    assert run.notify_emails == "form@example.com"
