"""REST API v1: files addressed by key (upload, download, info, delete)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from scripts_app.api import examples as ex
from scripts_app.api.errors import ParseqErrors
from scripts_app.api.permissions import CanUseFiles
from scripts_app.api.responses import BINARY_RESPONSE, DOWNLOAD_RENDERERS, errors
from scripts_app.api.serializers import (
    DetailSerializer,
    FileInfoSerializer,
    FileUploadSerializer,
    StoredFileSerializer,
)
from scripts_app.files import downloads, storage_api

KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The file's key (may contain '/')."
)


# The upload's schema, shared by POST /api/v1/files/ and seed 003's /api/v1/files/upload.
UPLOAD = {
    "request": {"multipart/form-data": FileUploadSerializer},
    "parameters": [OpenApiParameter("prefix", OpenApiTypes.STR, description="e.g. uploads/2026")],
    "responses": {
        201: StoredFileSerializer,
        413: OpenApiResponse(DetailSerializer, description="Over PARSEQ_FILE_MAX_BYTES"),
        **errors(400),
    },
    "examples": [ex.FILE_STORED, ex.BAD_KEY, ex.TOO_LARGE, *ex.AUTH_ERRORS],
}


class FileViewSet(ParseqErrors, viewsets.ViewSet):
    """Files addressed by key: upload, download, info, delete (``run_job`` permission)."""

    permission_classes = [CanUseFiles]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a file",
        description="multipart/form-data with one `file`. The key is random and new "
        "(keeping the extension), under `?prefix=` if given.",
        operation_id="files_upload",
        **UPLOAD,
    )
    def create(self, request):
        storage_api.validate_prefix(request.query_params.get("prefix"))
        declared = request.META.get("CONTENT_LENGTH")
        if declared and declared.isdigit():
            storage_api.check_size(max(int(declared) - 64 * 1024, 0))  # minus multipart overhead
        serializer = FileUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stored = storage_api.upload(
            serializer.validated_data["file"], request.query_params.get("prefix")
        )
        return Response({"key": stored.key, "size": stored.size}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Download a file",
        operation_id="files_download",
        parameters=[
            KEY_PARAMETER,
            OpenApiParameter(
                "Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="bytes=START-END"
            ),
        ],
        responses={**BINARY_RESPONSE, **errors(400, 404)},
        examples=[ex.BAD_KEY, *ex.AUTH_ERRORS],
    )
    def retrieve(self, request, key=None):
        found = storage_api.info(key)
        return downloads.serve(
            request,
            found.storage_name,
            filename=key.rsplit("/", 1)[-1],
            content_type=found.content_type,
            size=found.size,
        )

    @extend_schema(
        summary="A file's key, size and content type",
        operation_id="files_info",
        parameters=[KEY_PARAMETER],
        responses={200: FileInfoSerializer, **errors(400, 404)},
        examples=[ex.FILE_INFO, ex.BAD_KEY, *ex.AUTH_ERRORS],
    )
    def info(self, request, key=None):
        return Response(storage_api.info(key).as_dict())

    @extend_schema(
        summary="Delete a file",
        operation_id="files_delete",
        parameters=[KEY_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted"), **errors(400, 404)},
        examples=[ex.BAD_KEY, *ex.AUTH_ERRORS],
    )
    def destroy(self, request, key=None):
        storage_api.delete(key)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_renderers(self):
        if getattr(self, "action", None) == "retrieve":
            return [renderer() for renderer in DOWNLOAD_RENDERERS]
        return super().get_renderers()


class SeedUploadViewSet(FileViewSet):
    """Seed 003's path for the same upload: ``POST /api/v1/files/upload?prefix=``."""

    @extend_schema(
        summary="Upload a file (seed 003's path)",
        description="The same as `POST /api/v1/files/`: multipart/form-data with one `file`, "
        "under `?prefix=` if given.",
        operation_id="files_upload_seed",
        **UPLOAD,
    )
    def create(self, request):
        return super().create(request)
