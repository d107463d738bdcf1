"""Serializers for the REST API v1."""

from __future__ import annotations

import copy
import json

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from scripts_app import validators
from scripts_app.api.environments import EnvironmentFields
from scripts_app.errors import DependencyError
from scripts_app.jobs import saving, slugs, versions
from scripts_app.models import Artifact, Execution, Job, JobKind, ScriptVersion


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object; in a multipart/form request, a string holding one."""

    default_error_messages = {
        "invalid": "Value must be valid JSON.",
        "not_object": "Value must be a JSON object (name → value).",
    }

    def to_internal_value(self, data):
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except (TypeError, ValueError):
                self.fail("invalid")
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        return value


class ArtifactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["name", "size", "content_type", "created_at"]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer):
    job = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    triggered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    artifacts = ArtifactSerializer(many=True, read_only=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "job",
            "status",
            "trigger",
            "triggered_by",
            "scheduled_for",
            "params",
            "result",
            "error",
            "exit_code",
            "attempt",
            "retry_of",
            "script_sha256",
            "log_size",
            "created_at",
            "started_at",
            "finished_at",
            "artifacts",
        ]
        read_only_fields = fields


class ExecutionListSerializer(ExecutionSerializer):
    """A run in a list: everything but its artifacts (see the run or …/artifacts/)."""

    class Meta(ExecutionSerializer.Meta):
        fields = [f for f in ExecutionSerializer.Meta.fields if f != "artifacts"]
        read_only_fields = fields


class ScriptVersionSerializer(EnvironmentFields, serializers.ModelSerializer):
    """A version: its bytes and the lock of what it declares (``lock`` is empty and
    ``environments`` too when it declares nothing: it runs in the worker's interpreter)."""

    class Meta:
        model = ScriptVersion
        fields = [
            "sha256",
            "size",
            "source",
            "created_at",
            "dependencies",
            "requires_python",
            "lock",
            "lock_sha256",
            "packages",
            "environments",
        ]
        read_only_fields = fields


JOB_FIELDS = [
    "name",
    "slug",
    "description",
    "script",
    "script_path",
    "enabled",
    "default_params",
    "params_schema",
    "env",
    "network",
    "requirements",
    "timeout",
    "queue",
    "cron",
    "timezone",
    "start_at",
    "repeat_every",
    "misfire_policy",
    "overlap_policy",
    "max_concurrency",
    "max_retries",
    "retry_backoff",
    "memory_limit_mb",
    "cpu_time_limit",
    "log_limit_bytes",
    "output_limit_bytes",
    "notify_on",
    "notify_emails",
]


class JobSerializer(serializers.ModelSerializer):
    """A job. ``script`` is a .py upload (multipart); in multipart requests the JSON-valued
    fields (``default_params``, ``params_schema``, ``env``) are JSON strings."""

    url = serializers.HyperlinkedIdentityField(view_name="api:job-detail", lookup_field="slug")
    script = serializers.FileField(
        required=False,
        write_only=True,
        validators=[validators.validate_script_upload],
        help_text="A .py file. Each new upload becomes a new version; past runs keep theirs.",
    )
    script_name = serializers.SerializerMethodField()
    default_params = JSONObjectField(required=False)
    params_schema = JSONObjectField(required=False, validators=[validators.validate_params_schema])
    env = JSONObjectField(required=False, validators=[validators.validate_env_mapping])
    current_version = serializers.SerializerMethodField()
    has_trigger_token = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "url",
            *JOB_FIELDS,
            "kind",
            "entrypoint",
            "script_name",
            "current_version",
            "has_trigger_token",
            "dependency_error",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "url",
            "kind",  # code jobs come from the code (syncjobs), never from the API
            "entrypoint",
            "script_name",
            "dependency_error",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "slug": {
                "required": False,
                "help_text": "URL name: /api/v1/jobs/<slug>/. Left out, it is made from the name.",
            }
        }

    def get_fields(self):
        # In a multipart or form request DRF reads an omitted field as empty ('' for text,
        # False for a boolean: a form's unticked checkbox). Here omitted means "not given",
        # as in JSON: the field is skipped and the model's default applies (enabled=True).
        fields = super().get_fields()
        for field in fields.values():
            if not field.read_only and not field.required:
                field.default_empty_html = empty
        return fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_script_name(self, job: Job) -> str:
        if job.script:
            return job.script.name.rsplit("/", 1)[-1]
        return f"parsers/{job.script_path}" if job.script_path else ""

    @extend_schema_field(ScriptVersionSerializer(allow_null=True))
    def get_current_version(self, job: Job):
        """The stored version holding the job's current script (not merely the newest
        one: re-uploading an earlier script makes that version current again)."""
        pinned = self.context.get("pinned_versions")
        if pinned is None:
            pinned = versions.pinned_versions([job])
        version_id, _ = pinned.get(job.pk, (None, None))
        version = next((v for v in job.versions.all() if v.pk == version_id), None)
        return ScriptVersionSerializer(version, context=self.context).data if version else None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_has_trigger_token(self, job: Job) -> bool:
        """Whether POST …/trigger_token/ made one (the token itself is shown only then)."""
        return bool(job.trigger_token_hash)

    def validate(self, attrs):
        """Run the model's own cross-field checks (script source, schedule) on the result."""
        self._refuse_code_changes(attrs)
        if self.instance is None and not attrs.get("slug"):
            attrs["slug"] = slugs.unique_slug(attrs.get("name") or "")
        job = copy.copy(self.instance) if self.instance else Job()
        for name, value in attrs.items():
            setattr(job, name, value)
        try:
            job.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        if self.instance is None or saving.VERSIONED_FIELDS & attrs.keys():
            self._lock(job, attrs.get("script"))
        return attrs

    def _refuse_code_changes(self, attrs) -> None:
        """Code jobs are declared in code (@job, BaseJob) and synced by syncjobs."""
        kind = self.initial_data.get("kind") if hasattr(self, "initial_data") else None
        if self.instance is None and kind not in (None, "", JobKind.SCRIPT):
            raise serializers.ValidationError(
                {
                    "kind": [
                        "only uploaded scripts are created over the API: code jobs are "
                        "declared with @job or BaseJob and synced by manage.py syncjobs"
                    ]
                }
            )
        script_fields = sorted({"script", "script_path", "requirements"} & attrs.keys())
        if self.instance is not None and self.instance.kind != JobKind.SCRIPT and script_fields:
            raise serializers.ValidationError(
                {
                    name: [f"a code job has no script: it runs {self.instance.entrypoint}"]
                    for name in script_fields
                }
            )

    @staticmethod
    def _lock(job: Job, upload) -> None:
        """Resolve the declared dependencies now: a failure is a 400 and nothing is saved."""
        try:
            saving.lock_before_save(job, upload)
        except DependencyError as exc:
            field = getattr(exc, "field", None) or api_settings.NON_FIELD_ERRORS_KEY
            raise serializers.ValidationError({field: [str(exc)]}) from None


class RunRequestSerializer(serializers.Serializer):
    data = serializers.DictField(
        required=False,
        help_text="The run's params (overlaying the job's default_params); checked against "
        "the job's params_schema. List uploaded file keys in data.input_files (or one in "
        "data.file_key).",
    )
    email = serializers.JSONField(
        required=False,
        help_text='Recipients mailed when this run ends, whatever the job\'s notify_on: "a@b.c" '
        "or a list of addresses.",
    )


class TriggerTokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="GET or POST /scripts/<slug>/?token=<token> (or the X-Parseq-Token header) "
        "starts a run of this job. Shown once; stored hashed; a new one replaces it."
    )


class RunStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Execution._meta.get_field("status").choices)
    url = serializers.URLField()


class RunSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    success = serializers.BooleanField()
    result = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    execution_time = serializers.FloatField(allow_null=True)


class ScriptRunSerializer(serializers.Serializer):
    """Seed 003's answer: ``result`` when it worked, ``error`` when it did not."""

    success = serializers.BooleanField()
    result = serializers.DictField(required=False, help_text="What main() returned ({} for None).")
    error = serializers.CharField(required=False)
    execution_time = serializers.FloatField(allow_null=True, help_text="Seconds.")


class ParamsErrorSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class InvalidParamsSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ParamsErrorSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class FileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file to store (multipart/form-data).")


class StoredFileSerializer(serializers.Serializer):
    key = serializers.CharField()
    size = serializers.IntegerField()


class FileInfoSerializer(StoredFileSerializer):
    content_type = serializers.CharField()
