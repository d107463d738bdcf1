"""Starting a run from an HTTP request: ``POST /scripts/<slug>/`` and the API's
``POST /api/v1/jobs/<slug>/run/`` take the same body (``{"data": {...}, "email": …}``)
and ``?wait=``; a trigger-token ``GET`` names recipients as ``?email=``."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from scripts_app.models import Job, Trigger
from scripts_app.runs import dispatch, waiting


def run_body_params(data) -> dict:
    """``{"data": {...}}`` → the params; an empty body means no params."""
    if data in (None, "", {}):
        return {}
    if not isinstance(data, dict):
        raise ParseError('The body must be a JSON object like {"data": {...}}.')
    params = data.get("data", {})
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParseError('"data" must be a JSON object.')
    return params


def run_body_email(request) -> Any:
    """The trigger's ``"email"``: recipients mailed when this run ends (checked by
    ``dispatch.trigger``); a body without one may give it as ``?email=``."""
    data = request.data
    email = data.get("email") if isinstance(data, dict) else None
    if email is None:
        email = request.query_params.get("email")
    return email


def wait_seconds(request) -> float | None:
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ParseError("?wait must be a number of seconds.") from None
    if not 0 <= seconds <= waiting.MAX_WAIT_SECONDS:
        raise ParseError(f"?wait must be between 0 and {waiting.MAX_WAIT_SECONDS} seconds.")
    return seconds


def start_run(request, job: Job, trigger: Trigger) -> Response:
    """Start ``job`` from a ``{"data": {...}}`` request body; the answer for ``?wait``."""
    wait_seconds(request)  # refuse a bad ?wait before anything is queued
    params = run_body_params(request.data)
    execution = dispatch.trigger(
        job, params=params, trigger=trigger, user=request.user, email=run_body_email(request)
    )
    return started_response(request, execution)


def started_response(request, execution) -> Response:
    """202 with a pointer, or with ``?wait`` the outcome once the run ends in time."""
    seconds = wait_seconds(request)
    if seconds:
        waiting.wait_for(execution, seconds)
        if execution.is_final:
            return Response(waiting.summary(execution), status=status.HTTP_200_OK)
    url = request.build_absolute_uri(reverse("api:execution-detail", args=[execution.pk]))
    return Response(
        {"id": execution.pk, "status": execution.status, "url": url},
        status=status.HTTP_202_ACCEPTED,
    )
