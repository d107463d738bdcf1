"""A job created as multipart (the README's "Morning report") takes the model's defaults
for every field it leaves out, and one created without a slug gets one from its name,
transliterated and unique — over the API and in the admin alike."""

from __future__ import annotations

import pytest
from django.db.models import NOT_PROVIDED

from scripts_app.jobs.slugs import slug_base, transliterate
from scripts_app.models import Job
from tests.conftest import script_file


def create(api, **fields):
    data = {"name": "Morning report", "script": script_file("def main(d):\n    return d\n")}
    data.update(fields)
    return api.post("/api/v1/jobs/", data, format="multipart")


def test_a_multipart_create_takes_the_models_default_for_every_field_left_out(api):
    response = create(api, slug="morning-report", cron="30 7 * * mon-fri")
    assert response.status_code == 201, response.json()
    job = Job.objects.get(slug="morning-report")
    assert job.enabled is True and job.next_run_at is not None  # it will fire
    for field in Job._meta.concrete_fields:
        if field.default is NOT_PROVIDED or field.name in ("id", "slug", "name", "cron"):
            continue
        default = field.default() if callable(field.default) else field.default
        assert getattr(job, field.attname) == default, field.name


def test_a_multipart_field_that_is_given_still_counts(api):
    assert create(api, slug="off", enabled="false").status_code == 201
    assert Job.objects.get(slug="off").enabled is False


def test_a_multipart_partial_update_leaves_out_fields_alone(api):
    create(api, slug="kept", timeout="60")
    response = api.patch("/api/v1/jobs/kept/", {"description": "new"}, format="multipart")
    assert response.status_code == 200
    job = Job.objects.get(slug="kept")
    assert (job.enabled, job.timeout, job.description) == (True, 60, "new")


def test_a_missing_slug_is_made_from_the_name_transliterated(api):
    response = create(api, name="Бэкап базы данных")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "bekap-bazy-dannykh"
    assert Job.objects.get(slug="bekap-bazy-dannykh").name == "Бэкап базы данных"


def test_a_made_slug_is_unique_and_never_a_command_name(api):
    slugs = [create(api, name="Бэкап базы данных").json()["slug"] for _ in range(3)]
    assert slugs == ["bekap-bazy-dannykh", "bekap-bazy-dannykh-2", "bekap-bazy-dannykh-3"]
    assert create(api, name="migrate").json()["slug"] == "migrate-2"


def test_a_json_create_without_a_slug_gets_one_too(api):
    body = {"name": "Hello again", "script_path": "hello.py"}
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "hello-again"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Бэкап базы данных", "bekap-bazy-dannykh"),
        ("Щука и Ёжик", "shchuka-i-ezhik"),
        ("Курс ЦБ РФ", "kurs-tsb-rf"),
        ("Погода: Москва!", "pogoda-moskva"),
        ("Café Überweisung", "cafe-uberweisung"),
        ("???", "job"),
    ],
)
def test_names_read_as_latin_slugs(name, slug):
    assert slug_base(name) == slug


def test_transliteration_keeps_the_case_of_capitals():
    assert transliterate("Юля Щербакова") == "Yulya Shcherbakova"


def test_the_admin_makes_a_missing_slug_from_the_name_the_same_way(alice, client):
    client.force_login(alice)
    response = client.post(
        "/admin/scripts_app/job/add/",
        {
            "name": "Бэкап базы данных",
            "slug": "",
            "script_path": "hello.py",
            "enabled": "on",
            "timeout": "3600",
            "queue": "default",
            "misfire_policy": "coalesce",
            "overlap_policy": "skip",
            "network": "on",
            "max_retries": "0",
            "retry_backoff": "30",
            "notify_on": "never",
            "default_params": "{}",
            "params_schema": "{}",
            "env": "{}",
            "executions-TOTAL_FORMS": "0",
            "executions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Job.objects.get().slug == "bekap-bazy-dannykh"
