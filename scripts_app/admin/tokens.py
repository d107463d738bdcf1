"""Trigger tokens in the admin: a "New trigger token" button on a job's page and an
action on the jobs list. The token is shown on the page that answers, this once; only
its hash is kept (``jobs.tokens``), and a new one replaces the old one."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.http import require_POST

from scripts_app.jobs import tokens
from scripts_app.models import Job


class TriggerTokenAdmin:
    """Mixed into ``JobAdmin``."""

    @admin.action(description="New trigger token (shown once)", permissions=["change"])
    def new_trigger_token(self, request, queryset):
        return self._shown(request, list(queryset))

    @admin.display(description="Trigger token")
    def trigger_token_state(self, job):
        if not job.pk or not tokens.has_token(job):
            return "None. “New trigger token” makes one for curl/crontab/webhooks."
        return "Set (shown only when it was made; a new one replaces it)."

    def get_urls(self):
        view = require_POST(self.admin_site.admin_view(self.trigger_token_view))
        urls = [path("<path:object_id>/trigger_token/", view, name="scripts_app_job_token")]
        return urls + super().get_urls()

    def trigger_token_view(self, request, object_id):
        job = get_object_or_404(Job, pk=object_id)
        if not self.has_change_permission(request, job):
            raise PermissionDenied
        return self._shown(request, [job])

    def _shown(self, request, jobs: list[Job]) -> TemplateResponse:
        made = [
            {
                "job": job,
                "token": tokens.rotate(job),
                "url": request.build_absolute_uri(job.get_absolute_url()),
            }
            for job in jobs
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "New trigger tokens",
            "made": made,
        }
        return TemplateResponse(request, "scripts_app/admin/trigger_tokens.html", context)
