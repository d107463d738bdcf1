"""Turn Parseq and Django errors into clear 4xx answers (never a 500)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scripts_app.errors import InvalidParams, JobNotRunnable, NotCancellable
from scripts_app.files.storage_api import ExtensionNotAllowed, FileMissing, FileTooLarge, InvalidKey
from scripts_app.jobs.removal import JobBusy

STATUS_FOR = {
    JobNotRunnable: status.HTTP_409_CONFLICT,
    NotCancellable: status.HTTP_409_CONFLICT,
    JobBusy: status.HTTP_409_CONFLICT,
    InvalidKey: status.HTTP_400_BAD_REQUEST,
    ExtensionNotAllowed: status.HTTP_400_BAD_REQUEST,
    FileTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    FileMissing: status.HTTP_404_NOT_FOUND,
}


def exception_handler(exc, context):
    if isinstance(exc, InvalidParams):
        return Response(
            {"detail": "The params are invalid.", "errors": exc.errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    for kind, code in STATUS_FOR.items():
        if isinstance(exc, kind):
            return Response({"detail": str(exc)}, status=code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def not_found(request, exception=None):
    """``handler404``: a JSON 404 for unknown URLs under the API, Django's page elsewhere."""
    from django.http import JsonResponse
    from django.urls import reverse
    from django.views.defaults import page_not_found

    if request.path.startswith(reverse("api:api-root")):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
