"""API authentication (token, session) and the OpenAPI schema, Swagger UI and ReDoc."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

DOC_PAGES = ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"]


def test_a_token_authenticates(bob, make_job):
    make_job(slug="echo")
    token = Token.objects.create(user=bob)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/jobs/").status_code == 200


def test_a_wrong_token_is_401_with_a_challenge(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/executions/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_session_authenticates_and_needs_csrf_for_writes(bob, make_job):
    make_job(slug="echo")
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.get("/api/v1/jobs/").status_code == 200
    response = client.post("/api/v1/jobs/echo/run/", {}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/jobs/",
        "/api/v1/jobs/echo/",
        "/api/v1/executions/",
        "/api/v1/executions/1/",
        "/api/v1/executions/1/log/",
        "/api/v1/executions/1/artifacts/",
        "/api/v1/executions/1/artifacts/a.txt",
        "/api/v1/files/a.csv",
        "/api/v1/files/a.csv/info",
    ],
)
def test_anonymous_reads_get_401_everywhere(anon, url):
    assert anon.get(url).status_code == 401


@pytest.mark.parametrize("url", DOC_PAGES)
def test_the_docs_are_public_by_default(anon, url):
    assert anon.get(url).status_code == 200


@pytest.mark.parametrize("url", DOC_PAGES)
def test_the_docs_can_require_a_login(anon, alice, settings, url):
    settings.PARSEQ_API_DOCS_PUBLIC = False
    assert anon.get(url).status_code == 401
    client = APIClient()
    client.force_authenticate(alice)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_docs_load_their_assets_from_this_server(anon, url):
    html = anon.get(url).content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def has_example(operation: dict) -> bool:
    bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
    return any(
        "examples" in media or "example" in media
        for body in bodies
        for media in body.get("content", {}).values()
    )


def test_the_schema_describes_every_endpoint_with_examples(anon):
    schema = anon.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    expected = {
        "/api/v1/jobs/": {"get", "post"},
        "/api/v1/jobs/{slug}/": {"get", "put", "patch", "delete"},
        "/api/v1/jobs/{slug}/run/": {"post"},
        "/api/v1/jobs/{slug}/trigger_token/": {"post", "delete"},
        "/api/v1/scripts/{script_path}": {"post"},
        "/api/v1/executions/": {"get"},
        "/api/v1/executions/{id}/": {"get"},
        "/api/v1/executions/{id}/cancel/": {"post"},
        "/api/v1/executions/{id}/log/": {"get"},
        "/api/v1/executions/{id}/artifacts/": {"get"},
        "/api/v1/executions/{id}/artifacts/{name}": {"get"},
        "/api/v1/files/": {"post"},
        "/api/v1/files/upload": {"post"},
        "/api/v1/files/{key}": {"get", "delete"},
        "/api/v1/files/{key}/info": {"get"},
    }
    assert set(paths) == set(expected)
    for path, methods in expected.items():
        assert set(paths[path]) >= methods, path
        for method in methods:
            operation = paths[path][method]
            assert operation.get("summary"), (path, method)
            ok = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            assert ok, (path, method)
            assert "401" in operation["responses"], (path, method)
            assert has_example(operation), (path, method)
    job_create = paths["/api/v1/jobs/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in job_create
    run = paths["/api/v1/jobs/{slug}/run/"]["post"]
    assert run["responses"]["400"]["content"]["application/json"]["examples"]
    assert "examples" in run["requestBody"]["content"]["application/json"]


def test_an_unknown_api_url_answers_json_404(api):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3")
