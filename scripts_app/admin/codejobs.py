"""The job page of a code job (``@job``/``BaseJob``) or task: where it lives, no script
upload, and the settings its code owns shown read-only (``code.sync``: the code applies
them at every ``syncjobs``; enabled and the schedule are the operator's)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from scripts_app.admin import environments
from scripts_app.code import registry
from scripts_app.models import JobKind

DISPLAY = ("code_location", "code_fields")
SCRIPT_ONLY = ("script", "script_path", "requirements", "network", *environments.FIELDS)


def is_code(job) -> bool:
    return job is not None and job.pk is not None and job.kind != JobKind.SCRIPT


class CodeJobFields(environments.EnvironmentFields):
    """For ``JobAdmin``: the fields that depend on the job's kind — a script's environment
    (``environments.EnvironmentFields``), or where a code job lives."""

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj) if name not in DISPLAY]
        if is_code(obj):
            return [*DISPLAY, *(name for name in fields if name not in SCRIPT_ONLY)]
        return fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if is_code(obj) else super().get_prepopulated_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # The kind is never chosen in the admin: uploads are scripts, code is synced.
        readonly = [*super().get_readonly_fields(request, obj), "kind"]
        if is_code(obj):
            readonly += [*DISPLAY, *registry.code_owned_fields(obj.slug)]
        return readonly

    @admin.display(description="Defined in code")
    def code_location(self, job):
        where = registry.module_file(job.entrypoint) or "module not found"
        return format_html(
            "{}: <code>{}</code><br><code>{}</code>", job.get_kind_display(), job.entrypoint, where
        )

    @admin.display(description="Settings from the code")
    def code_fields(self, job):
        if job.kind == JobKind.TASK:
            return format_html(
                "A task of Django's task API: each <code>enqueue()</code> records a run "
                "here; its arguments are the run's params (<code>{}</code>).",
                '{"args": [...], "kwargs": {...}}',
            )
        owned = registry.code_owned_fields(job.slug)
        if not owned:
            return "None: this job is no longer in the code (syncjobs disabled it)."
        names = format_html_join(", ", "<code>{}</code>", ((name,) for name in owned))
        return format_html(
            "{} — applied again at every <code>manage.py syncjobs</code>. Enabled, the "
            "schedule and everything else are yours to edit.",
            names,
        )
