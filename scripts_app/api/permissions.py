"""Who may do what: Django model permissions, plus the custom ``run_job``.

- viewing jobs / executions: ``view_job`` / ``view_execution`` (or change_*)
- creating, changing, deleting jobs: ``add_job`` / ``change_job`` / ``delete_job``
- starting and cancelling runs, the file storage API and the script-path API: ``run_job``
- making or revoking a job's trigger token: ``change_job``
- the OpenAPI schema and docs: anyone when ``PARSEQ_API_DOCS_PUBLIC`` (the default)
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import BasePermission, DjangoModelPermissions


class CanRunJob(BasePermission):
    message = "You need the “Can run jobs” permission to start a run."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("scripts_app.run_job"))


class CanChangeJob(BasePermission):
    message = "You need the “Can change job” permission to manage its trigger token."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("scripts_app.change_job"))


class CanUseFiles(CanRunJob):
    message = "You need the “Can run jobs” permission to use the file storage API."


class ModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions that also guards reads with the ``view`` permission."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            queryset = self._queryset(view)
            opts = queryset.model._meta
            # change_* implies view_* (as in the admin)
            return request.user.has_perm(
                f"{opts.app_label}.view_{opts.model_name}"
            ) or request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
        return super().has_permission(request, view)


class DocsPermission(BasePermission):
    """The schema, Swagger UI and ReDoc: public unless PARSEQ_API_DOCS_PUBLIC is off."""

    def has_permission(self, request, view) -> bool:
        if settings.PARSEQ_API_DOCS_PUBLIC:
            return True
        return bool(request.user and request.user.is_authenticated)
