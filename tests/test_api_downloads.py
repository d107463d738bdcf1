"""services/downloads.py: ranges, streaming in chunks, and S3 (redirect or stream)."""

from __future__ import annotations

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import RequestFactory
from moto import mock_aws

from scripts_app.errors import RangeNotSatisfiable
from scripts_app.files import downloads
from scripts_app.files.downloads import ByteRange, parse_range

DATA = bytes(range(256)) * 4096  # 1 MiB


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=10-", ByteRange(10, 99)),
        ("bytes=-5", ByteRange(95, 99)),
        ("bytes=-500", ByteRange(0, 99)),
        ("bytes=90-500", ByteRange(90, 99)),
        ("bytes=0-1,5-6", None),  # multi-range: whole file
        ("items=0-5", None),
        ("bytes=9-3", None),
        ("bytes=abc", None),
    ],
)
def test_it_parses_one_byte_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=500-600", "bytes=-0"])
def test_a_range_outside_the_file_is_not_satisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


@pytest.fixture
def local(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    name = storage.save("big.bin", ContentFile(DATA))
    return storage, name


def serve(storage, name, **headers):
    request = RequestFactory().get("/x", headers=headers)
    return downloads.serve(
        request,
        name,
        filename="big.bin",
        content_type="application/octet-stream",
        storage=storage,
    )


def test_a_local_file_streams_in_bounded_chunks(local):
    response = serve(*local)
    chunks = list(response.streaming_content)
    assert b"".join(chunks) == DATA
    assert max(len(chunk) for chunk in chunks) <= downloads.CHUNK_SIZE
    assert len(chunks) > 1


def test_a_head_request_sends_headers_only(local):
    storage, name = local
    request = RequestFactory().head("/x")
    response = downloads.serve(
        request,
        name,
        filename="big.bin",
        content_type="application/octet-stream",
        storage=storage,
    )
    assert response["Content-Length"] == str(len(DATA))
    assert b"".join(response.streaming_content) == b""


def test_a_file_name_with_unicode_is_encoded_in_content_disposition(local):
    storage, name = local
    request = RequestFactory().get("/x")
    response = downloads.serve(
        request, name, filename="отчёт.csv", content_type="text/csv", storage=storage
    )
    assert "filename*=utf-8''" in response["Content-Disposition"]


@pytest.fixture
def s3(settings):
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="parseq-test")
        from storages.backends.s3 import S3Storage

        storage = S3Storage(
            bucket_name="parseq-test",
            access_key="test",
            secret_key="test",
            region_name="us-east-1",
            querystring_expire=60,
        )
        name = storage.save("executions/1/artifacts/big.bin", ContentFile(DATA))
        yield storage, name


def test_on_s3_it_redirects_to_a_short_lived_presigned_url(s3, settings):
    settings.PARSEQ_DOWNLOAD_REDIRECT = True
    settings.PARSEQ_DOWNLOAD_URL_SECONDS = 120
    response = serve(*s3)
    assert response.status_code == 302
    url = response["Location"]
    assert "parseq-test" in url and "executions/1/artifacts/big.bin" in url
    assert "Expires=" in url or "X-Amz-Expires=120" in url
    assert "response-content-disposition=attachment" in url


def test_on_s3_without_redirect_it_streams_through_django_with_ranges(s3, settings):
    settings.PARSEQ_DOWNLOAD_REDIRECT = False
    whole = serve(*s3)
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == DATA
    part = serve(*s3, Range="bytes=1000-1999")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == DATA[1000:2000]
    assert part["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
