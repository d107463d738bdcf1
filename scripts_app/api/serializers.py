"""Serializers for the REST API v1."""

from __future__ import annotations

from rest_framework import serializers

from scripts_app.models import Artifact, Execution


class ArtifactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["name", "size", "content_type", "created_at"]
        read_only_fields = fields


class ExecutionSerializer(serializers.ModelSerializer):
    job = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
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
