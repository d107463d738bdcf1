"""/api/v1/files/: upload under a prefix, download, info, delete; keys are checked."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import client_for


def upload(client, data=b"a,b\n1,2\n", name="data.csv", prefix=None):
    url = "/api/v1/files/" + (f"?prefix={prefix}" if prefix is not None else "")
    return client.post(url, {"file": SimpleUploadedFile(name, data)}, format="multipart")


def test_it_stores_an_upload_under_a_random_key_with_its_extension(api):
    response = upload(api)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}\.csv", body["key"])
    assert body["size"] == 8
    assert default_storage.exists(f"files/{body['key']}")


def test_it_puts_the_key_under_the_prefix(api):
    key = upload(api, prefix="uploads/2026").json()["key"]
    assert key.startswith("uploads/2026/") and key.endswith(".csv")


def test_two_uploads_of_the_same_name_get_different_keys(api):
    assert upload(api).json()["key"] != upload(api).json()["key"]


def test_it_downloads_info_and_deletes_a_file(api):
    key = upload(api, b"hello", name="note.txt", prefix="inbox").json()["key"]
    info = api.get(f"/api/v1/files/{key}/info")
    assert info.status_code == 200
    assert info.json() == {"key": key, "size": 5, "content_type": "text/plain"}
    download = api.get(f"/api/v1/files/{key}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello"
    assert download["Content-Type"] == "text/plain"
    assert download["Content-Disposition"] == f'attachment; filename="{key.split("/")[-1]}"'
    partial = api.get(f"/api/v1/files/{key}", HTTP_RANGE="bytes=-2")
    assert partial.status_code == 206
    assert b"".join(partial.streaming_content) == b"lo"
    assert api.delete(f"/api/v1/files/{key}").status_code == 204
    assert api.get(f"/api/v1/files/{key}").status_code == 404
    assert api.delete(f"/api/v1/files/{key}").status_code == 404


@pytest.mark.parametrize(
    "key",
    [
        "..%2Fsecrets.txt",
        "a/../../etc/passwd",
        "%2Fetc%2Fpasswd",
        "a%00b.csv",
        "a%0Ab.csv",
        "a%1Bb.csv",
        "a%5Cb.csv",
        "a//b.csv",
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "nul", "newline", "escape", "backslash", "empty"],
)
def test_it_refuses_keys_that_could_escape_or_are_not_printable(api, key):
    for url in (f"/api/v1/files/{key}", f"/api/v1/files/{key}/info"):
        response = api.get(url)
        assert response.status_code == 400, (url, response.content)
        assert "key" in response.json()["detail"]
    assert api.delete(f"/api/v1/files/{key}").status_code == 400


@pytest.mark.parametrize("prefix", ["..", "a/../b", "/abs", "x%00y", "c:stuff"])
def test_it_refuses_a_bad_prefix(api, prefix):
    response = upload(api, prefix=prefix)
    assert response.status_code == 400
    assert "prefix" in response.json()["detail"]


def test_an_upload_over_the_limit_is_413(api, settings):
    settings.PARSEQ_FILE_MAX_BYTES = 100
    response = upload(api, b"x" * 101)
    assert response.status_code == 413
    assert "limit is 100 bytes" in response.json()["detail"]


def test_a_request_declaring_a_huge_body_is_refused_before_it_is_read(api, settings):
    settings.PARSEQ_FILE_MAX_BYTES = 100
    response = api.generic(
        "POST",
        "/api/v1/files/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )
    assert response.status_code == 413


def test_an_extension_that_is_not_allowed_is_400(api):
    response = upload(api, b"MZ", name="tool.exe")
    assert response.status_code == 400
    assert ".exe" in response.json()["detail"]


def test_allowed_extensions_are_configurable(api, settings):
    settings.PARSEQ_FILE_EXTENSIONS = [".exe"]
    assert upload(api, b"MZ", name="tool.exe").status_code == 201
    assert upload(api).status_code == 400
    settings.PARSEQ_FILE_EXTENSIONS = ["*"]
    assert upload(api, b"x", name="anything.weird").status_code == 201


def test_an_upload_without_a_file_is_400(api):
    response = api.post("/api/v1/files/", {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_an_empty_file_is_400(api):
    assert upload(api, b"").status_code == 400


def test_a_missing_key_is_404(api):
    assert api.get("/api/v1/files/nothing/here.csv").status_code == 404
    assert api.get("/api/v1/files/nothing/here.csv/info").status_code == 404


def test_the_file_api_needs_the_run_permission(charlie, bob):
    assert upload(client_for(charlie)).status_code == 403
    key = upload(client_for(bob)).json()["key"]
    assert client_for(charlie).get(f"/api/v1/files/{key}").status_code == 403
    assert client_for(charlie).delete(f"/api/v1/files/{key}").status_code == 403


def test_anonymous_is_401(anon):
    assert upload(anon).status_code == 401
    assert anon.get("/api/v1/files/a.csv").status_code == 401


def test_a_head_request_gives_the_headers_without_the_body(api):
    key = upload(api, b"hello", name="note.txt").json()["key"]
    response = api.head(f"/api/v1/files/{key}")
    assert response.status_code == 200
    assert response["Content-Length"] == "5"
    assert b"".join(response.streaming_content) == b""
