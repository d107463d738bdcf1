"""REST API v1 viewsets: thin wrappers over the services."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from scripts_app.api import examples as ex
from scripts_app.api.permissions import CanRunJob, CanUseFiles, ModelPermissions
from scripts_app.api.serializers import (
    ArtifactSerializer,
    DetailSerializer,
    ExecutionListSerializer,
    ExecutionSerializer,
    FileInfoSerializer,
    FileUploadSerializer,
    InvalidParamsSerializer,
    JobSerializer,
    RunRequestSerializer,
    RunStartedSerializer,
    RunSummarySerializer,
    StoredFileSerializer,
    environment_copies,
)
from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.services import control, downloads, files, logs, removal, scripts
from scripts_app.views import start_run

LOG_PAGE_BYTES = 1024 * 1024
LIST_RELATED = {"job", "triggered_by"}
NEXT_OFFSET_HEADER = "X-Log-Next-Offset"
COMPLETE_HEADER = "X-Log-Complete"

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


# --- Jobs --------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List jobs",
        responses={200: JobSerializer(many=True), **errors()},
        examples=[ex.JOB_RESPONSE, *ex.AUTH_ERRORS],
    ),
    retrieve=extend_schema(
        summary="A job",
        responses={200: JobSerializer, **errors(404)},
        examples=[ex.JOB_RESPONSE, *ex.AUTH_ERRORS],
    ),
    create=extend_schema(
        summary="Create a job (multipart, with the script upload)",
        description="Send multipart/form-data with a `script` .py file (or `script_path` under "
        "parsers/). JSON-valued fields (`default_params`, `params_schema`, `env`) are JSON "
        "strings in multipart.",
        responses={201: JobSerializer, **errors(400)},
        examples=[ex.JOB_CREATE, ex.JOB_RESPONSE, ex.FIELD_ERRORS, *ex.AUTH_ERRORS],
    ),
    update=extend_schema(
        summary="Replace a job",
        description="A new `script` upload becomes a new version; earlier runs keep theirs.",
        responses={200: JobSerializer, **errors(400, 404)},
        examples=[ex.JOB_CREATE, ex.JOB_RESPONSE, ex.FIELD_ERRORS, *ex.AUTH_ERRORS],
    ),
    partial_update=extend_schema(
        summary="Change some fields of a job",
        description="A new `script` upload becomes a new version; earlier runs keep theirs.",
        responses={200: JobSerializer, **errors(400, 404)},
        examples=[ex.JOB_PATCH, ex.JOB_RESPONSE, ex.FIELD_ERRORS, *ex.AUTH_ERRORS],
    ),
    destroy=extend_schema(
        summary="Delete a job and its history",
        description="Deletes the job with its versions, executions, logs and artifacts. "
        "409 while it has queued or running runs. Disable the job to keep its history.",
        responses={
            204: OpenApiResponse(description="Deleted"),
            409: OpenApiResponse(DetailSerializer, description="Runs still active"),
            **errors(404),
        },
        examples=[ex.JOB_BUSY, *ex.AUTH_ERRORS],
    ),
)
class JobViewSet(viewsets.ModelViewSet):
    serializer_class = JobSerializer
    queryset = Job.objects.prefetch_related("versions")
    lookup_field = "slug"

    def get_serializer(self, *args, **kwargs):
        if kwargs.get("many") and args:  # a list page: find current versions in one go
            jobs = list(args[0])
            context = kwargs.setdefault("context", self.get_serializer_context())
            context["pinned_versions"] = scripts.pinned_versions(jobs)
            context["environment_copies"] = environment_copies(jobs)
            args = (jobs, *args[1:])
        return super().get_serializer(*args, **kwargs)

    permission_classes = [ModelPermissions]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def perform_create(self, serializer):
        with transaction.atomic():
            job = serializer.save()
            scripts.current_version(job)

    def perform_update(self, serializer):
        with transaction.atomic():
            job = serializer.save()
            scripts.current_version(job)

    def perform_destroy(self, instance):
        removal.delete_job(instance)

    def get_throttles(self):
        if self.action == "run":
            self.throttle_scope = "trigger"
            return [ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="Start a run",
        description="Same body and `?wait=` as `POST /scripts/<slug>/`. Params are checked "
        "against the job's params_schema before anything is queued.",
        request=RunRequestSerializer,
        parameters=[
            OpenApiParameter(
                "wait",
                OpenApiTypes.NUMBER,
                description="Wait up to this many seconds (0–300) for the run to end.",
            )
        ],
        responses={
            202: OpenApiResponse(RunStartedSerializer, description="Queued"),
            200: OpenApiResponse(RunSummarySerializer, description="Ended within ?wait"),
            400: OpenApiResponse(InvalidParamsSerializer, description="Invalid params"),
            409: OpenApiResponse(DetailSerializer, description="The job has no usable script"),
            429: OpenApiResponse(DetailSerializer, description="Throttled"),
            **errors(404),
        },
        examples=[ex.RUN_REQUEST, ex.RUN_STARTED, ex.RUN_SUMMARY, ex.RUN_INVALID, *ex.AUTH_ERRORS],
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[CanRunJob],
        parser_classes=[JSONParser],
    )
    def run(self, request, slug=None):
        return start_run(request, get_object_or_404(Job, slug=slug), Trigger.API)


# --- Executions --------------------------------------------------------------------------


class NewestFirstPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ParseError("The cursor is not valid; start again without ?cursor.") from None


def _choice(request, name: str, choices) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value not in choices.values:
        raise ValidationError({name: f"“{value}” is not one of: {', '.join(choices.values)}."})
    return value


def _datetime(request, name: str):
    from rest_framework.fields import DateTimeField

    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return DateTimeField().to_internal_value(value)
    except ValidationError:
        raise ValidationError(
            {name: "Give an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z."}
        ) from None


EXECUTION_FILTERS = [
    OpenApiParameter("job", OpenApiTypes.STR, description="Only runs of the job with this slug."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
    OpenApiParameter("trigger", OpenApiTypes.STR, enum=Trigger.values),
    OpenApiParameter(
        "created_after", OpenApiTypes.DATETIME, description="Runs created at or after this."
    ),
    OpenApiParameter(
        "created_before", OpenApiTypes.DATETIME, description="Runs created before this."
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="List runs, newest first",
        parameters=EXECUTION_FILTERS,
        responses={200: ExecutionListSerializer(many=True), **errors(400)},
        examples=[ex.EXECUTION_PAGE, *ex.AUTH_ERRORS],
    ),
    retrieve=extend_schema(
        summary="A run",
        responses={200: ExecutionSerializer, **errors(404)},
        examples=[ex.EXECUTION, *ex.AUTH_ERRORS],
    ),
)
class ExecutionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ExecutionSerializer
    queryset = Execution.objects.select_related("job", "triggered_by").prefetch_related("artifacts")
    permission_classes = [ModelPermissions]
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        if self.action == "list":  # lean: one indexed query, only the columns shown
            columns = [f for f in ExecutionListSerializer.Meta.fields if f not in LIST_RELATED]
            return Execution.objects.select_related("job", "triggered_by").only(
                *columns, "job__slug", "triggered_by__username"
            )
        return super().get_queryset()

    def get_serializer_class(self):
        return ExecutionListSerializer if self.action == "list" else ExecutionSerializer

    def get_renderers(self):
        if getattr(self, "action", None) == "artifact":  # a download: any Accept header
            return [renderer() for renderer in DOWNLOAD_RENDERERS]
        return super().get_renderers()

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        request = self.request
        slug = request.query_params.get("job")
        if slug not in (None, ""):
            job_id = Job.objects.filter(slug=slug).values_list("id", flat=True).first()
            if job_id is None:
                raise ValidationError({"job": f"No job has the slug “{slug}”."})
            queryset = queryset.filter(job_id=job_id)
        if value := _choice(request, "status", Status):
            queryset = queryset.filter(status=value)
        if value := _choice(request, "trigger", Trigger):
            queryset = queryset.filter(trigger=value)
        if value := _datetime(request, "created_after"):
            queryset = queryset.filter(created_at__gte=value)
        if value := _datetime(request, "created_before"):
            queryset = queryset.filter(created_at__lt=value)
        return queryset

    @extend_schema(
        summary="Cancel a run",
        request=None,
        responses={
            200: ExecutionSerializer,
            409: OpenApiResponse(DetailSerializer, description="The run has already ended"),
            **errors(404),
        },
        examples=[ex.EXECUTION, ex.ALREADY_ENDED, *ex.AUTH_ERRORS],
    )
    @action(detail=True, methods=["post"], permission_classes=[CanRunJob])
    def cancel(self, request, pk=None):
        execution = control.cancel(self.get_object())
        return Response(self.get_serializer(execution).data)

    @extend_schema(
        summary="The run's log (plain text), from ?offset",
        description=f"Up to `limit` bytes from `offset`. The `{NEXT_OFFSET_HEADER}` header is "
        f"the offset to ask for next; `{COMPLETE_HEADER}: true` once the run has ended and "
        "everything was read. Poll with the next offset to follow a running job.",
        parameters=[
            OpenApiParameter("offset", OpenApiTypes.INT, description="Byte offset (default 0)."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Max bytes (default {LOG_PAGE_BYTES})."
            ),
        ],
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR,
                description="Log bytes",
                examples=[OpenApiExample("log", value="hello\nworld\n")],
            ),
            **errors(400, 404),
        },
        examples=ex.AUTH_ERRORS,
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PlainTextRenderer])
    def log(self, request, pk=None):
        execution = self.get_object()
        offset = _non_negative_int(request, "offset", 0)
        limit = _non_negative_int(request, "limit", LOG_PAGE_BYTES) or LOG_PAGE_BYTES
        # Ended before this read means the whole log was already stored (the final status
        # and the stored log are written by one UPDATE), so empty data means the end.
        ended = execution.is_final
        data, next_offset = logs.read_log(execution, offset, min(limit, LOG_PAGE_BYTES))
        complete = ended and not data
        response = HttpResponse(data, content_type="text/plain; charset=utf-8")
        response[NEXT_OFFSET_HEADER] = str(next_offset)
        response[COMPLETE_HEADER] = "true" if complete else "false"
        return response

    @extend_schema(
        summary="The run's output files",
        responses={200: ArtifactSerializer(many=True), **errors(404)},
        examples=[ex.ARTIFACTS, *ex.AUTH_ERRORS],
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def artifacts(self, request, pk=None):
        execution = self.get_object()
        return Response(ArtifactSerializer(execution.artifacts.all(), many=True).data)

    @extend_schema(
        summary="Download one output file",
        operation_id="executions_artifact_download",
        parameters=[
            OpenApiParameter(
                "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="May contain '/'."
            ),
            OpenApiParameter(
                "Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="bytes=START-END"
            ),
        ],
        responses={**BINARY_RESPONSE, **errors(404)},
        examples=ex.AUTH_ERRORS,
    )
    def artifact(self, request, pk=None, name=None):
        execution = self.get_object()
        artifact = execution.artifacts.filter(name=name).first()
        if artifact is None:
            raise NotFound(f"Run #{execution.pk} has no file named “{name}”.")
        return downloads.serve(
            request,
            artifact.file.name,
            filename=name.rsplit("/", 1)[-1],
            content_type=artifact.content_type,
            size=artifact.size,
        )


def _non_negative_int(request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: "Give a whole number of bytes."}) from None
    if value < 0:
        raise ValidationError({name: "Must not be negative."})
    return value


# --- File storage ------------------------------------------------------------------------

KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH, description="The file's key (may contain '/')."
)


class FileViewSet(viewsets.ViewSet):
    """Files addressed by key: upload, download, info, delete (``run_job`` permission)."""

    permission_classes = [CanUseFiles]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a file",
        description="multipart/form-data with one `file`. The key is random and new "
        "(keeping the extension), under `?prefix=` if given.",
        operation_id="files_upload",
        request={"multipart/form-data": FileUploadSerializer},
        parameters=[OpenApiParameter("prefix", OpenApiTypes.STR, description="e.g. uploads/2026")],
        responses={
            201: StoredFileSerializer,
            413: OpenApiResponse(DetailSerializer, description="Over PARSEQ_FILE_MAX_BYTES"),
            **errors(400),
        },
        examples=[ex.FILE_STORED, ex.BAD_KEY, ex.TOO_LARGE, *ex.AUTH_ERRORS],
    )
    def create(self, request):
        files.validate_prefix(request.query_params.get("prefix"))
        declared = request.META.get("CONTENT_LENGTH")
        if declared and declared.isdigit():
            files.check_size(max(int(declared) - 64 * 1024, 0))  # minus multipart overhead
        serializer = FileUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stored = files.upload(serializer.validated_data["file"], request.query_params.get("prefix"))
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
        found = files.info(key)
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
        return Response(files.info(key).as_dict())

    @extend_schema(
        summary="Delete a file",
        operation_id="files_delete",
        parameters=[KEY_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted"), **errors(400, 404)},
        examples=[ex.BAD_KEY, *ex.AUTH_ERRORS],
    )
    def destroy(self, request, key=None):
        files.delete(key)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_renderers(self):
        if getattr(self, "action", None) == "retrieve":
            return [renderer() for renderer in DOWNLOAD_RENDERERS]
        return super().get_renderers()
