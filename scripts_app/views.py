"""``/scripts/<slug>/``: a GET shows the job, a POST starts a run — and with the job's
trigger token (``?token=`` or ``X-Parseq-Token``) a GET or a POST starts a run with no
other credentials (crontab, webhooks). The trailing slash is optional."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from scripts_app.api.errors import ParseqErrors
from scripts_app.api.permissions import CanRunJob
from scripts_app.api.throttling import TriggerThrottle
from scripts_app.api.triggering import start_run
from scripts_app.errors import BadToken, ParseqError
from scripts_app.jobs import tokens
from scripts_app.models import Job, Trigger
from scripts_app.runs import dispatch

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TOKEN_HEADER = "HTTP_X_PARSEQ_TOKEN"


def trigger_token(request) -> str:
    """The trigger token a request carries ('' for none)."""
    return request.GET.get("token") or request.META.get(TOKEN_HEADER, "")


def login_url() -> str:
    # The admin's login page: a host project without the admin has its own LOGIN_URL.
    try:
        return reverse("admin:login")
    except NoReverseMatch:
        return settings.LOGIN_URL


class JobTriggerView(ParseqErrors, APIView):
    throttle_scope = "trigger"

    def get_permissions(self):
        if trigger_token(self.request):
            return [AllowAny()]  # the token is checked against the job in the handler
        if self.request.method == "POST":
            return [CanRunJob()]
        return [AllowAny()]

    def get_throttles(self):
        starts = self.request.method == "POST" or trigger_token(self.request)
        return [TriggerThrottle()] if starts else []

    def get(self, request, slug: str):
        if trigger_token(request):
            return self.token_run(request, slug)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        job = get_object_or_404(Job, slug=slug)
        recent = job.executions.select_related("triggered_by")[:20]
        context = {
            "job": job,
            "recent": recent,
            "can_run": request.user.has_perm("scripts_app.run_job"),
        }
        return render(request._request, "scripts_app/job_detail.html", context)

    def post(self, request, slug: str):
        if trigger_token(request):
            return self.token_run(request, slug)
        job = get_object_or_404(Job, slug=slug)
        if request.content_type.startswith(FORM_TYPES):
            return self.post_form(request, job)
        return start_run(request, job, Trigger.HTTP)

    def token_run(self, request, slug: str):
        job = get_object_or_404(Job, slug=slug)
        if not tokens.matches(job, trigger_token(request)):
            raise BadToken("The trigger token is not this job's.")
        return start_run(request, job, Trigger.HTTP)

    def post_form(self, request, job: Job):
        """The Run button of the job page: JSON params from a text field, then back to the page."""
        try:
            params = json.loads(request.data.get("data") or "{}")
            execution = dispatch.trigger(
                job,
                params=params,
                trigger=Trigger.HTTP,
                user=request.user,
                email=request.data.get("email"),
            )
        except (json.JSONDecodeError, ParseqError) as exc:  # bad JSON, bad params, no script
            messages.error(request._request, f"Not started: {exc}")
        else:
            messages.success(request._request, f"Started run #{execution.pk}.")
        return HttpResponseRedirect(job.get_absolute_url(), status=303)
