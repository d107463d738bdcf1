"""Who may do what: Django model permissions, plus the custom ``run_job``."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class CanRunJob(BasePermission):
    message = "You need the “Can run jobs” permission to start a run."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("scripts_app.run_job"))
