"""Serving a stored file (artifact or file-API key) to an HTTP client.

- S3 with ``PARSEQ_DOWNLOAD_REDIRECT``: a 302 to a short-lived presigned URL (S3 serves
  the bytes, ranges included; the name and type travel as response-* parameters).
- Otherwise the bytes stream through Django in fixed-size chunks (constant memory), with
  ``Content-Disposition``, ``Content-Type``, ``Content-Length`` and single ``Range``
  requests (206 / 416). Local files are read with seek; S3 objects with a ranged GET.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

from scripts_app.errors import RangeNotSatisfiable

CHUNK_SIZE = 256 * 1024
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range ``header`` asks for, or None to send the whole file.

    Multi-range and malformed headers are ignored (RFC 9110 allows answering 200);
    a well-formed range outside the file raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = RANGE_RE.match(header.strip().replace(" ", ""))
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(size - length, 0), size - 1)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # invalid syntax: ignore the header
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, end)


def is_s3(storage: Storage) -> bool:
    return hasattr(storage, "bucket") and hasattr(storage, "connection")


def _read_range(handle, start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes from ``start``, in CHUNK_SIZE pieces (constant memory)."""
    handle.seek(start)
    remaining = length
    while remaining > 0:
        data = handle.read(min(CHUNK_SIZE, remaining))
        if not data:
            break
        remaining -= len(data)
        yield data


def _local_chunks(path: str, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from _read_range(handle, start, length)


def _s3_chunks(storage: Storage, name: str, start: int, length: int) -> Iterator[bytes]:
    key = storage._normalize_name(name)  # noqa: SLF001 - django-storages' own key mapping
    kwargs = {"Range": f"bytes={start}-{start + length - 1}"} if length else {}
    body = storage.bucket.Object(key).get(**kwargs)["Body"]
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


def _storage_chunks(storage: Storage, name: str, start: int, length: int) -> Iterator[bytes]:
    with storage.open(name, "rb") as handle:
        yield from _read_range(handle, start, length)


def presigned_url(storage: Storage, name: str, filename: str, content_type: str) -> str:
    return storage.url(
        name,
        parameters={
            "ResponseContentDisposition": content_disposition_header(True, filename),
            "ResponseContentType": content_type,
        },
        expire=settings.PARSEQ_DOWNLOAD_URL_SECONDS,
    )


def serve(
    request: HttpRequest,
    name: str,
    *,
    filename: str,
    content_type: str,
    size: int | None = None,
    storage: Storage | None = None,
) -> HttpResponse:
    """The response that hands the stored file ``name`` to the client as ``filename``."""
    storage = storage or default_storage
    if is_s3(storage) and settings.PARSEQ_DOWNLOAD_REDIRECT:
        return HttpResponseRedirect(presigned_url(storage, name, filename, content_type))
    if size is None:
        size = storage.size(name)
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable as exc:  # an empty 416 saying how large the file is
        return HttpResponse(status=exc.http_status, headers=exc.http_headers())
    start, length = (wanted.start, wanted.length) if wanted else (0, size)
    if isinstance(storage, FileSystemStorage):
        chunks = _local_chunks(storage.path(name), start, length)
    elif is_s3(storage):
        chunks = _s3_chunks(storage, name, start, length)
    else:
        chunks = _storage_chunks(storage, name, start, length)
    response = StreamingHttpResponse(
        chunks if request.method != "HEAD" else iter(()),
        status=206 if wanted else 200,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    if wanted:
        response["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    return response
