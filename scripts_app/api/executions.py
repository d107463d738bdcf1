"""REST API v1: runs, newest first, with filters; cancel, the log, output files."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from scripts_app.api import examples as ex
from scripts_app.api.errors import ParseqErrors
from scripts_app.api.permissions import CanRunJob, ModelPermissions
from scripts_app.api.responses import BINARY_RESPONSE, DOWNLOAD_RENDERERS, PlainTextRenderer, errors
from scripts_app.api.serializers import (
    ArtifactSerializer,
    DetailSerializer,
    ExecutionListSerializer,
    ExecutionSerializer,
)
from scripts_app.files import downloads
from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.runs import control, logs

LOG_PAGE_BYTES = 1024 * 1024
LIST_RELATED = {"job", "triggered_by"}
NEXT_OFFSET_HEADER = "X-Log-Next-Offset"
COMPLETE_HEADER = "X-Log-Complete"


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
class ExecutionViewSet(ParseqErrors, viewsets.ReadOnlyModelViewSet):
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
        page = logs.read_page(execution, offset, min(limit, LOG_PAGE_BYTES))
        response = HttpResponse(page.data, content_type="text/plain; charset=utf-8")
        response[NEXT_OFFSET_HEADER] = str(page.next_offset)
        response[COMPLETE_HEADER] = "true" if page.complete else "false"
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
