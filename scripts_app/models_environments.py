"""Which worker caches hold which script environments (``environments/records.py``).

A module of its own below ``scripts_app.models``, which imports it so the table belongs
to the ``scripts_app`` app and its migrations (as ``models_operations`` does)."""

from __future__ import annotations

from django.db import models


class EnvironmentCopy(models.Model):
    """A built environment in one worker cache: which workers can run a lock at once.

    Written by the worker that builds or first uses it, deleted when it is evicted; a
    cache (``cache_id``, kept in the cache directory) may be shared by the workers of a
    host, so ``host`` is the last one that recorded it.
    """

    lock_sha256 = models.CharField(max_length=64)
    cache_id = models.CharField(max_length=64)
    host = models.CharField(max_length=200)
    size_bytes = models.PositiveBigIntegerField(default=0)
    build_seconds = models.FloatField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host"]
        constraints = [
            models.UniqueConstraint(fields=["cache_id", "lock_sha256"], name="one_copy_per_cache")
        ]
        indexes = [models.Index(fields=["lock_sha256"], name="envcopy_lock_idx")]

    def __str__(self) -> str:
        return f"{self.lock_sha256[:12]} on {self.host}"
