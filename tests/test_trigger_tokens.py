"""Per-job trigger tokens: made by the API (or the admin), shown once, stored hashed,
rotated by a new one, good for their own job only; ``/scripts/<slug>/?token=`` or the
``X-Parseq-Token`` header starts a run by GET or POST with no other credentials."""

from __future__ import annotations

import hashlib

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from scripts_app.models import Execution, Job, Trigger
from tests.conftest import client_for

HELLO = "def main(data):\n    return {'greeting': 'Hello, ' + data.get('name', 'World') + '!'}\n"


@pytest.fixture
def hello(make_job) -> Job:
    return make_job(HELLO, slug="hello")


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    from django.core.cache import cache

    cache.clear()


def new_token(api, slug: str = "hello") -> str:
    response = api.post(f"/api/v1/jobs/{slug}/trigger_token/")
    assert response.status_code == 201, response.content
    return response.json()["token"]


def test_the_api_shows_a_new_token_once_and_stores_only_its_hash(api, hello):
    token = new_token(api)
    hello.refresh_from_db()
    assert hello.trigger_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Job.objects.filter(pk=hello.pk).values().get())
    shown = api.get("/api/v1/jobs/hello/").json()
    assert shown["has_trigger_token"] is True and token not in str(shown)


def test_a_crontab_get_with_the_token_starts_a_run(hello, api):
    token = new_token(api)
    response = APIClient().get(f"/scripts/hello/?token={token}")
    assert response.status_code == 202, response.content
    run = Execution.objects.get()
    assert response.json()["id"] == run.pk
    assert (run.trigger, run.triggered_by, run.params) == (Trigger.HTTP, None, {})


def test_a_webhook_post_with_the_header_starts_a_run_with_its_params(hello, api):
    token = new_token(api)
    response = APIClient().post(
        "/scripts/hello",  # no trailing slash, as in seed 000's crontab line
        {"data": {"name": "Hook"}},
        format="json",
        HTTP_X_PARSEQ_TOKEN=token,
    )
    assert response.status_code == 202, response.content
    assert Execution.objects.get().params == {"name": "Hook"}


def test_a_wrong_token_is_403_and_starts_nothing(hello, api):
    new_token(api)
    for client_call in (
        lambda c: c.get("/scripts/hello/?token=guess"),
        lambda c: c.post("/scripts/hello/", {}, format="json", HTTP_X_PARSEQ_TOKEN="guess"),
    ):
        response = client_call(APIClient())
        assert response.status_code == 403
        assert response.json() == {"detail": "The trigger token is not this job's."}
    assert not Execution.objects.exists()


def test_a_job_without_a_token_accepts_none(hello):
    response = APIClient().get("/scripts/hello/?token=anything")
    assert response.status_code == 403
    assert not Execution.objects.exists()


def test_a_token_is_scoped_to_its_own_job(api, hello, make_job):
    make_job(HELLO, slug="other")
    token = new_token(api, "other")
    assert APIClient().get(f"/scripts/hello/?token={token}").status_code == 403
    assert APIClient().get(f"/scripts/other/?token={token}").status_code == 202
    assert list(Execution.objects.values_list("job__slug", flat=True)) == ["other"]


def test_a_new_token_replaces_the_old_one(api, hello):
    old = new_token(api)
    new = new_token(api)
    assert old != new
    assert APIClient().get(f"/scripts/hello/?token={old}").status_code == 403
    assert APIClient().get(f"/scripts/hello/?token={new}").status_code == 202


def test_a_revoked_token_starts_nothing(api, hello):
    token = new_token(api)
    assert api.delete("/api/v1/jobs/hello/trigger_token/").status_code == 204
    assert APIClient().get(f"/scripts/hello/?token={token}").status_code == 403
    assert api.get("/api/v1/jobs/hello/").json()["has_trigger_token"] is False


def test_only_people_who_may_change_the_job_make_tokens(bob, hello):
    response = client_for(bob).post("/api/v1/jobs/hello/trigger_token/")
    assert response.status_code == 403
    hello.refresh_from_db()
    assert hello.trigger_token_hash == ""


def test_a_get_without_a_token_never_starts_a_run(hello, api, alice):
    new_token(api)
    client = APIClient()
    client.force_login(alice)
    assert client.get("/scripts/hello/").status_code == 200
    assert not Execution.objects.exists()


def test_token_triggers_are_throttled(api, hello, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"trigger": "2/min"})
    token = new_token(api)
    codes = [APIClient().get(f"/scripts/hello/?token={token}").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert Execution.objects.count() == 2


def test_a_token_trigger_can_name_who_is_mailed(api, hello):
    token = new_token(api)
    response = APIClient().get(f"/scripts/hello/?token={token}&email=ops@example.com")
    assert response.status_code == 202
    assert Execution.objects.get().notify_emails == "ops@example.com"
