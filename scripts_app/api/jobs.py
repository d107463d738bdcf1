"""REST API v1: jobs (list, create with the script upload, edit, delete) and starting a run."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from scripts_app.api import examples as ex
from scripts_app.api.environments import environment_copies
from scripts_app.api.errors import ParseqErrors
from scripts_app.api.permissions import CanChangeJob, CanRunJob, ModelPermissions
from scripts_app.api.responses import errors
from scripts_app.api.serializers import (
    DetailSerializer,
    InvalidParamsSerializer,
    JobSerializer,
    RunRequestSerializer,
    RunStartedSerializer,
    RunSummarySerializer,
    TriggerTokenSerializer,
)
from scripts_app.api.throttling import TriggerThrottle
from scripts_app.api.triggering import start_run
from scripts_app.jobs import removal, saving, tokens, versions
from scripts_app.models import Job, Trigger


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
class JobViewSet(ParseqErrors, viewsets.ModelViewSet):
    serializer_class = JobSerializer
    queryset = Job.objects.prefetch_related("versions")
    lookup_field = "slug"

    def get_serializer(self, *args, **kwargs):
        if kwargs.get("many") and args:  # a list page: find current versions in one go
            jobs = list(args[0])
            context = kwargs.setdefault("context", self.get_serializer_context())
            context["pinned_versions"] = versions.pinned_versions(jobs)
            context["environment_copies"] = environment_copies(jobs)
            args = (jobs, *args[1:])
        return super().get_serializer(*args, **kwargs)

    permission_classes = [ModelPermissions]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def perform_create(self, serializer):
        saving.save_job(serializer.save)

    perform_update = perform_create

    def perform_destroy(self, instance):
        removal.delete_job(instance)

    def get_throttles(self):
        if self.action == "run":
            self.throttle_scope = "trigger"
            return [TriggerThrottle()]
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
        examples=[
            ex.RUN_REQUEST,
            ex.RUN_STARTED,
            ex.RUN_SUMMARY,
            ex.RUN_INVALID,
            ex.BAD_RECIPIENTS,
            *ex.AUTH_ERRORS,
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[CanRunJob],
        parser_classes=[JSONParser],
    )
    def run(self, request, slug=None):
        return start_run(request, get_object_or_404(Job, slug=slug), Trigger.API)

    @extend_schema(
        summary="Make a new trigger token (or revoke it)",
        description="POST: a new token for `GET`/`POST /scripts/<slug>/?token=…` (or the "
        "`X-Parseq-Token` header), which then starts runs of this job alone with no other "
        "credentials. Shown this once and stored hashed; a new one replaces the old one. "
        "DELETE: the job has no token any more. Needs `change_job`.",
        request=None,
        responses={
            201: TriggerTokenSerializer,
            204: OpenApiResponse(description="Revoked"),
            **errors(404),
        },
        examples=[ex.TRIGGER_TOKEN, *ex.AUTH_ERRORS],
    )
    @action(
        detail=True,
        methods=["post", "delete"],
        url_path="trigger_token",
        permission_classes=[CanChangeJob],
    )
    def trigger_token(self, request, slug=None):
        job = get_object_or_404(Job, slug=slug)
        if request.method == "DELETE":
            tokens.revoke(job)
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"token": tokens.rotate(job)}, status=status.HTTP_201_CREATED)
