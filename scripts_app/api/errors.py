"""Turn Parseq and Django errors into clear 4xx answers (never a 500).

What each Parseq error answers is defined once, on the error (``scripts_app.errors``);
this handler renders it for the REST API and for ``/scripts/<slug>/`` alike. Views set
it themselves (``ParseqErrors``), so a host project needs no ``EXCEPTION_HANDLER``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.openapi import AutoSchema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scripts_app.errors import ParseqError


def exception_handler(exc, context):
    if isinstance(exc, ParseqError):
        return Response(exc.http_body(), status=exc.http_status, headers=exc.http_headers())
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class ParseqErrors:
    """A DRF view mixin: errors answered by ``exception_handler``, token or session log-in
    and drf-spectacular's schema, whatever the project's REST_FRAMEWORK setting says (a
    host project that installs the app keeps its own defaults for its own views)."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    schema = AutoSchema()

    def get_exception_handler(self):
        return exception_handler


def not_found(request, exception=None):
    """``handler404``: a JSON 404 for unknown URLs under the API, Django's page elsewhere."""
    from django.http import JsonResponse
    from django.urls import reverse
    from django.views.defaults import page_not_found

    if request.path.startswith(reverse("api:api-root")):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
