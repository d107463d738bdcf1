"""``/scripts/<slug>/``: a GET shows the job, a POST starts a run."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from scripts_app.api.errors import ParseqErrors
from scripts_app.api.permissions import CanRunJob
from scripts_app.errors import ParseqError
from scripts_app.models import Job, Trigger
from scripts_app.runs import dispatch, waiting

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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
    execution = dispatch.trigger(job, params=params, trigger=trigger, user=request.user)
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


class JobTriggerView(ParseqErrors, APIView):
    throttle_scope = "trigger"

    def get_permissions(self):
        if self.request.method == "POST":
            return [CanRunJob()]
        return [AllowAny()]

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    def get(self, request, slug: str):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        job = get_object_or_404(Job, slug=slug)
        recent = job.executions.select_related("triggered_by")[:20]
        context = {
            "job": job,
            "recent": recent,
            "can_run": request.user.has_perm("scripts_app.run_job"),
        }
        return render(request._request, "scripts_app/job_detail.html", context)

    def post(self, request, slug: str):
        job = get_object_or_404(Job, slug=slug)
        if request.content_type.startswith(FORM_TYPES):
            return self.post_form(request, job)
        return start_run(request, job, Trigger.HTTP)

    def post_form(self, request, job: Job):
        """The Run button of the job page: JSON params from a text field, then back to the page."""
        try:
            params = json.loads(request.data.get("data") or "{}")
            execution = dispatch.trigger(
                job, params=params, trigger=Trigger.HTTP, user=request.user
            )
        except (json.JSONDecodeError, ParseqError) as exc:  # bad JSON, bad params, no script
            messages.error(request._request, f"Not started: {exc}")
        else:
            messages.success(request._request, f"Started run #{execution.pk}.")
        return HttpResponseRedirect(job.get_absolute_url(), status=303)
