"""Declared dependencies are resolved and locked with uv when a script is uploaded or a
job saved; a declaration that does not resolve is refused and nothing is saved."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from django.urls import reverse

from scripts_app.environments import locking, uvtool
from scripts_app.errors import DependencyError
from scripts_app.jobs import saving
from scripts_app.models import Execution, Job, ScriptVersion, Trigger
from scripts_app.runs import dispatch, logs
from scripts_app.worker import execution
from tests.conftest import script_file
from tests.package_index import LocalIndex, forget, pep723

BODY = "import tinypkg\n\ndef main(data):\n    return tinypkg.__version__\n"


def create(api, source: str, **fields):
    data = {"name": "Deps", "slug": "deps", "script": script_file(source, "deps.py"), **fields}
    return api.post("/api/v1/jobs/", data, format="multipart")


def stored_files() -> list[str]:
    try:
        return default_storage.listdir("scripts")[0]
    except FileNotFoundError:
        return []


def test_it_locks_pep_723_dependencies_at_upload_with_pins_and_hashes(api, offline_packages):
    response = create(api, pep723("tinydep", body=BODY))

    assert response.status_code == 201, response.json()
    version = ScriptVersion.objects.get(job__slug="deps")
    assert version.dependencies == ["tinydep"]
    assert locking.pinned_packages(version.lock) == [("tinydep", "1.0"), ("tinypkg", "2.0")]
    assert version.lock.count("--hash=sha256:") == 2
    assert version.lock.startswith("# parseq lock 1: uv ")
    assert version.lock_sha256 == locking.Lock(None, version.lock).sha256
    shown = response.json()["current_version"]
    assert shown["dependencies"] == ["tinydep"]
    assert shown["packages"] == [
        {"name": "tinydep", "version": "1.0"},
        {"name": "tinypkg", "version": "2.0"},
    ]
    assert shown["lock"] == version.lock and shown["environments"] == []


def test_a_script_without_metadata_is_never_locked(api, offline_packages, monkeypatch):
    def no_uv(*args, **kwargs):
        raise AssertionError("uv must not run for a script that declares nothing")

    monkeypatch.setattr(uvtool, "run", no_uv)
    response = create(api, "def main(data):\n    return data\n")

    assert response.status_code == 201, response.json()
    version = ScriptVersion.objects.get(job__slug="deps")
    assert (version.lock, version.lock_sha256, version.dependencies) == ("", "", [])
    run = execution.execute(dispatch.trigger(version.job, trigger=Trigger.CLI, send=False).pk)
    assert run.status == "succeeded", run.error
    assert not logs.read_log(run)[0].startswith(b"[parseq] environment")


@pytest.mark.parametrize(
    ("source", "fields", "field", "words"),
    [
        (pep723("nonexistent-pkg"), {}, "script", ["nonexistent-pkg", "not found"]),
        (
            pep723("tinypkg==1.0", "tinydep"),
            {},
            "script",
            ["tinydep", "tinypkg>=2", "tinypkg==1.0"],
        ),
        (pep723("tinypkg>=", body=BODY), {}, "script", ["tinypkg>=", "not a valid requirement"]),
        (BODY, {"requirements": "tinypkg==9.9\n"}, "requirements", ["tinypkg==9.9"]),
        (BODY, {"requirements": "-r /etc/passwd\n"}, "requirements", ["line 1", "'-r'"]),
        (pep723("tinypkg", requires_python=">=3.99"), {}, "script", [">=3.99", "Python 3."]),
    ],
    ids=["unknown-package", "conflict", "bad-syntax", "bad-pin", "option-line", "python"],
)
def test_a_requirement_that_does_not_resolve_is_refused_and_nothing_is_saved(
    api, offline_packages, source, fields, field, words
):
    response = create(api, source, **fields)

    assert response.status_code == 400
    message = response.json()[field][0]
    for word in words:
        assert word in message
    assert not Job.objects.exists() and not ScriptVersion.objects.exists()
    assert stored_files() == []


def saved_from_code(slug: str, source: str):
    """What the demo loader hands the save service: ``Job.save``, no form or serializer."""

    def write() -> Job:
        job = Job(name=slug.title(), slug=slug, script=script_file(source, f"{slug}.py"))
        job.save()
        return job

    return write


def test_the_job_save_service_locks_for_every_caller_and_refuses_with_nothing_saved(
    offline_packages, db
):
    job = saving.save_job(saved_from_code("loaded", pep723("tinypkg==1.0", body=BODY)))
    (version,) = job.versions.all()
    assert locking.pinned_packages(version.lock) == [("tinypkg", "1.0")]

    with pytest.raises(DependencyError, match="nonexistent-pkg"):
        saving.save_job(saved_from_code("refused", pep723("nonexistent-pkg", body=BODY)))
    assert not Job.objects.filter(slug="refused").exists()
    assert list(ScriptVersion.objects.all()) == [version]


def test_a_job_s_requirements_field_is_locked_and_part_of_its_version(api, offline_packages):
    created = create(api, BODY, requirements="tinypkg==1.0  # the old one\n")
    assert created.status_code == 201, created.json()
    first = ScriptVersion.objects.get()
    assert first.dependencies == ["tinypkg==1.0"]

    changed = api.patch("/api/v1/jobs/deps/", {"requirements": "tinypkg==2.0"}, format="json")

    assert changed.status_code == 200, changed.json()
    versions = list(ScriptVersion.objects.order_by("created_at"))
    assert len(versions) == 2 and versions[0].sha256 == versions[1].sha256  # same bytes
    assert locking.pinned_packages(versions[1].lock) == [("tinypkg", "2.0")]
    assert changed.json()["current_version"]["lock_sha256"] == versions[1].lock_sha256
    run = execution.execute(dispatch.trigger(versions[1].job, trigger="cli", send=False).pk)
    assert (run.status, run.result, run.script_version_id) == ("succeeded", "2.0", versions[1].pk)


def test_a_bad_requirements_change_is_refused_and_the_job_keeps_its_version(api, offline_packages):
    assert create(api, BODY, requirements="tinypkg==1.0").status_code == 201

    response = api.patch("/api/v1/jobs/deps/", {"requirements": "tinypkg==7"}, format="json")

    assert response.status_code == 400 and "tinypkg==7" in response.json()["requirements"][0]
    assert Job.objects.get().requirements == "tinypkg==1.0"
    assert ScriptVersion.objects.count() == 1


def add_form(client: Client, **fields):
    """Post the admin's add-job form with its initial values plus ``fields``."""
    url = reverse("admin:scripts_app_job_add")
    form = client.get(url).context["adminform"].form
    data = {
        name: form[name].value()
        for name in form.fields
        if form[name].value() is not None and name not in ("script", "remove_secrets")
    }
    data.update({f"executions-{k}": 0 for k in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS")})
    data.update({"executions-MAX_NUM_FORMS": 0, **fields})
    for name in ("default_params", "params_schema", "env"):
        if not isinstance(data.get(name), str):
            data[name] = json.dumps(data.get(name) or {})
    return client.post(url, data)


class TestAdmin:
    @pytest.fixture
    def client(self, alice):
        client = Client()
        client.force_login(alice)
        return client

    def test_saving_locks_the_upload_and_the_job_page_shows_deps_lock_and_workers(
        self, client, offline_packages
    ):
        response = add_form(
            client, name="Pinned", slug="pinned", script=script_file(pep723("tinydep"), "p.py")
        )
        assert response.status_code == 302, response.context["adminform"].form.errors
        job = Job.objects.get(slug="pinned")
        version = ScriptVersion.objects.get(job=job)
        assert locking.pinned_packages(version.lock)[1] == ("tinypkg", "2.0")

        page = client.get(reverse("admin:scripts_app_job_change", args=[job.pk])).content.decode()
        assert "<code>tinydep</code>" in page
        assert "<code>tinypkg==2.0</code>" in page and version.lock_sha256[:12] in page
        assert "not built on any worker yet" in page

    def test_a_requirement_that_does_not_resolve_is_a_form_error_and_nothing_is_saved(
        self, client, offline_packages
    ):
        upload = script_file(pep723("nonexistent-pkg"), "bad.py")
        response = add_form(client, name="Bad", slug="bad", script=upload)

        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert "nonexistent-pkg" in errors["script"][0]
        assert "nonexistent-pkg" in response.content.decode()
        assert not Job.objects.exists() and stored_files() == []


def test_a_parsers_file_that_stops_resolving_shows_the_error_on_the_job_page(
    make_job, offline_packages, settings, tmp_path, alice
):
    settings.PARSEQ_SCRIPTS_DIR = tmp_path
    (tmp_path / "edited.py").write_text(pep723("tinypkg", body=BODY))
    job = Job.objects.create(name="Edited", slug="edited", script_path="edited.py")
    assert dispatch.trigger(job, trigger=Trigger.CLI, send=False).script_version.lock_sha256

    (tmp_path / "edited.py").write_text(pep723("nonexistent-pkg", body=BODY))  # edited in place
    with pytest.raises(DependencyError, match="nonexistent-pkg"):
        dispatch.trigger(job, trigger=Trigger.CLI, send=False)

    assert Execution.objects.count() == 1
    job.refresh_from_db()
    assert "nonexistent-pkg" in job.dependency_error
    client = Client()
    client.force_login(alice)
    public = client.get(f"/scripts/{job.slug}/").content.decode()
    assert 'id="dependency-error"' in public and "nonexistent-pkg" in public
    admin_page = client.get(reverse("admin:scripts_app_job_change", args=[job.pk]))
    assert "nonexistent-pkg" in admin_page.content.decode()


def test_index_credentials_reach_uv_but_never_a_lock_a_log_or_an_error(
    make_job, wheelhouse, tmp_path, api
):
    index = LocalIndex(wheelhouse, auth=("parseq", "s3cr3t-token"))
    try:
        with override_settings(
            PARSEQ_PIP_INDEX_URL=index.url("parseq:s3cr3t-token"),
            PARSEQ_PIP_FIND_LINKS=[],
            PARSEQ_ENV_CACHE=tmp_path / "cache",
        ):
            forget()
            job = make_job(pep723("tinydep", body=BODY), slug="private")
            run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
            refused = create(api, pep723("nonexistent-pkg"))
    finally:
        index.close()
        forget()

    assert run.status == "succeeded" and run.result == "2.0", run.error
    assert any(path.startswith("/files/tinypkg-2.0") for path in index.requests)
    log = logs.read_log(run)[0].decode()
    assert log.startswith("[parseq] environment ") and "built in" in log.splitlines()[0]
    assert refused.status_code == 400 and "nonexistent-pkg" in refused.json()["script"][0]
    texts = [run.script_version.lock, log, run.error, json.dumps(refused.json())]
    assert not [text for text in texts if "s3cr3t" in text or "parseq:" in text]


def test_it_redacts_index_credentials_from_uv_s_output():
    index = uvtool.Index(
        default="https://bot:p%40ss@pypi.example/simple", extra=("https://t0ken@x.example/",)
    )
    text = "GET https://bot:p%40ss@pypi.example/simple failed; https://t0ken@x.example/ p@ss"
    assert (
        index.redact(text)
        == "GET https://****@pypi.example/simple failed; https://****@x.example/ ****"
    )
    assert "UV_DEFAULT_INDEX" in index.env() and index.args() == []
    assert uvtool.Index(default="none").args() == ["--no-index"]


def test_the_api_lists_the_workers_that_hold_a_version_s_environment(api, offline_packages):
    for slug in ("one", "two", "three"):
        body = create(api, pep723("tinypkg", body=BODY), slug=slug, name=slug)
        assert body.status_code == 201
    job = Job.objects.get(slug="one")
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    assert run.status == "succeeded", run.error

    listed = {item["slug"]: item for item in api.get("/api/v1/jobs/").json()}
    held = listed["one"]["current_version"]["environments"]
    assert [copy["host"] for copy in held] and held[0]["build_seconds"] is not None
    assert len(listed["two"]["current_version"]["environments"]) == 1  # the same lock
    detail = api.get("/api/v1/jobs/one/").json()["current_version"]["environments"]
    assert detail == held
