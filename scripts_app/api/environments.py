"""A script version's environment in the API: what its lock pins and which worker caches
hold it already (the admin's counterpart is ``admin/environments.py``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scripts_app.environments import locking, records
from scripts_app.models import EnvironmentCopy, Job, ScriptVersion


class PinnedPackageSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()


class EnvironmentCopySerializer(serializers.ModelSerializer):
    class Meta:
        model = EnvironmentCopy
        fields = ["host", "cache_id", "size_bytes", "build_seconds", "recorded_at"]
        read_only_fields = fields


def environment_copies(jobs: list[Job]) -> dict[str, list[EnvironmentCopy]]:
    """lock sha256 → its copies, for a page of jobs (versions prefetched): one query."""
    locks = {v.lock_sha256 for job in jobs for v in job.versions.all() if v.lock_sha256}
    return records.copies_by_lock(locks)


class EnvironmentFields(serializers.Serializer):
    """``packages`` and ``environments`` of a ScriptVersion serializer; a list page puts
    its copies in the context (``environment_copies``) so each version asks nothing."""

    packages = serializers.SerializerMethodField(help_text="What the lock pins.")
    environments = serializers.SerializerMethodField(
        help_text="Worker caches that hold its environment already (the first run elsewhere "
        "builds it)."
    )

    @extend_schema_field(PinnedPackageSerializer(many=True))
    def get_packages(self, version: ScriptVersion):
        pins = locking.pinned_packages(version.lock)
        return [{"name": name, "version": pinned} for name, pinned in pins]

    @extend_schema_field(EnvironmentCopySerializer(many=True))
    def get_environments(self, version: ScriptVersion):
        known = self.context.get("environment_copies")
        if known is not None:
            copies = known.get(version.lock_sha256, [])
        else:
            copies = records.copies_of(version.lock_sha256)
        return EnvironmentCopySerializer(copies, many=True).data
