"""What the API answers look like: renderers for plain text and downloads, and the
documented error and file responses shared by the viewsets."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
)
from rest_framework.renderers import BaseRenderer, JSONRenderer

from scripts_app.api.serializers import (
    DetailSerializer,
)

BAD_INPUT = {
    "type": "object",
    "description": "`detail`, or one list of messages per offending field.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
}
ERRORS = {
    400: OpenApiResponse(BAD_INPUT, description="Bad input"),
    401: OpenApiResponse(DetailSerializer, description="Not authenticated"),
    403: OpenApiResponse(DetailSerializer, description="Missing permission"),
    404: OpenApiResponse(DetailSerializer, description="Not found"),
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in (401, 403, *codes)}


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"]).encode()
        return str(data).encode()


class AnyMediaRenderer(JSONRenderer):
    """Lets a download be asked for with any ``Accept``; errors still render as JSON."""

    media_type = "*/*"
    format = "download"


DOWNLOAD_RENDERERS = [JSONRenderer, AnyMediaRenderer]
BINARY_RESPONSE = {
    (200, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="The file (any content type). Supports Range: bytes=… (206, 416).",
    ),
    (206, "application/octet-stream"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The requested byte range."
    ),
    302: OpenApiResponse(description="On S3: a redirect to a short-lived presigned URL."),
    416: OpenApiResponse(description="The Range lies outside the file."),
}
