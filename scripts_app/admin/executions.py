"""The executions admin: read-only run history, a live log tail, artifact downloads,
Cancel and Re-run."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from scripts_app.admin import dashboard, display
from scripts_app.errors import InvalidParams, JobNotRunnable, NotCancellable
from scripts_app.files import downloads
from scripts_app.models import ACTIVE_STATUSES, Execution, Status
from scripts_app.runs import control, logs

LOG_PAGE_BYTES = 256 * 1024


def artifacts_html(execution: Execution) -> str:
    rows = [
        (
            reverse("admin:scripts_app_execution_artifact", args=[execution.pk, artifact.name]),
            artifact.name,
            display.human_size(artifact.size),
            artifact.content_type,
        )
        for artifact in execution.artifacts.all()
    ]
    if not rows:
        return "none yet" if execution.status in ACTIVE_STATUSES else "none"
    return format_html(
        '<table class="parseq-artifacts"><thead><tr><th>File</th><th>Size</th><th>Type</th>'
        "</tr></thead><tbody>{}</tbody></table>",
        format_html_join(
            "",
            '<tr><td><a class="parseq-download" href="{}" download>{}</a></td>'
            "<td>{}</td><td>{}</td></tr>",
            rows,
        ),
    )


LIVE_PARTS = {
    "status": lambda run: display.status_badge(run.status),
    "duration": lambda run: display.format_duration(display.elapsed(run)),
    "result": lambda run: display.pretty_json(run.result),
    "error": lambda run: run.error or "—",
    "exit_code": lambda run: "—" if run.exit_code is None else str(run.exit_code),
    "artifacts": artifacts_html,
}


def live_fields(execution: Execution) -> dict[str, str]:
    """The parts of the execution page the log tail refreshes, as HTML."""
    return {key: render(execution) for key, render in LIVE_PARTS.items()}


def live_part(key: str, label: str):
    """An admin display field showing ``LIVE_PARTS[key]`` in an element the page updates."""

    @admin.display(description=label)
    def show(model_admin, execution):
        return format_html('<div id="parseq-{}">{}</div>', key, LIVE_PARTS[key](execution))

    return show


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    change_form_template = "scripts_app/admin/execution_change_form.html"
    change_list_template = "scripts_app/admin/execution_change_list.html"
    list_display = [
        "run",
        "job",
        "badge",
        "trigger",
        "triggered_by",
        "created",
        "started",
        "duration_display",
    ]
    list_display_links = ["run"]
    list_filter = ["status", "trigger", "job"]
    list_select_related = ["job", "triggered_by"]
    search_fields = ["job__slug", "job__name", "error"]
    date_hierarchy = "created_at"
    list_per_page = 50
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "job_link",
                    "live_status",
                    "trigger",
                    "triggered_by",
                    "params_pretty",
                    "scheduled_for",
                    "attempt",
                    "retry_of",
                ]
            },
        ),
        ("Timing", {"fields": ["created_at", "started_at", "finished_at", "live_duration"]}),
        ("Outcome", {"fields": ["live_exit_code", "live_error", "live_result", "live_artifacts"]}),
        ("Log", {"fields": ["log_tail"]}),
        (
            "Worker",
            {
                "fields": ["worker", "pid", "heartbeat_at", "script_sha256", "queue"],
                "classes": ["collapse"],
            },
        ),
    ]

    class Media:
        css = {"all": ["scripts_app/admin.css"]}
        js = ["scripts_app/execution.js"]

    # -- permissions: history is read-only ---------------------------------------------

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_run_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("scripts_app.run_job")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("job", "triggered_by")

    # -- list columns ------------------------------------------------------------------

    @admin.display(description="Run", ordering="id")
    def run(self, execution):
        return f"#{execution.pk}"

    @admin.display(description="Status", ordering="status")
    def badge(self, execution):
        return display.status_badge(execution.status)

    @admin.display(description="Created", ordering="created_at")
    def created(self, execution):
        return display.relative_time(execution.created_at)

    @admin.display(description="Started", ordering="started_at")
    def started(self, execution):
        return display.relative_time(execution.started_at)

    @admin.display(description="Duration")
    def duration_display(self, execution):
        return display.format_duration(display.elapsed(execution))

    # -- the execution page ------------------------------------------------------------

    @admin.display(description="Job")
    def job_link(self, execution):
        url = reverse("admin:scripts_app_job_change", args=[execution.job_id])
        return format_html(
            '<a href="{}">{}</a> <code>{}</code>', url, execution.job, execution.job.slug
        )

    @admin.display(description="Params")
    def params_pretty(self, execution):
        return display.pretty_json(execution.params)

    # Read-only fields the page refreshes in place while the run goes (execution.js).
    live_status = live_part("status", "Status")
    live_duration = live_part("duration", "Duration")
    live_exit_code = live_part("exit_code", "Exit code")
    live_error = live_part("error", "Error")
    live_result = live_part("result", "Result")
    live_artifacts = live_part("artifacts", "Artifacts")

    @admin.display(description="Log")
    def log_tail(self, execution):
        page = logs.read_page(execution, 0, LOG_PAGE_BYTES)
        return format_html(
            '<pre id="parseq-log" class="parseq-log" data-url="{}" data-offset="{}" '
            'data-final="{}">{}</pre>',
            reverse("admin:scripts_app_execution_log", args=[execution.pk]),
            page.next_offset,
            "true" if page.final else "false",
            page.text,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        execution = self.get_object(request, object_id)
        can_run = self.has_run_permission(request)
        extra_context = {
            **(extra_context or {}),
            "can_run": can_run,
            "can_cancel": bool(can_run and execution and execution.status in ACTIVE_STATUSES),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # -- extra URLs --------------------------------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        urls = [
            path("dashboard/", wrap(self.dashboard_view), name="scripts_app_dashboard"),
            path("<int:object_id>/log/", wrap(self.log_view), name="scripts_app_execution_log"),
            path(
                "<int:object_id>/cancel/",
                wrap(self.cancel_view),
                name="scripts_app_execution_cancel",
            ),
            path(
                "<int:object_id>/rerun/", wrap(self.rerun_view), name="scripts_app_execution_rerun"
            ),
            path(
                "<int:object_id>/artifacts/<path:name>",
                wrap(self.artifact_view),
                name="scripts_app_execution_artifact",
            ),
        ]
        return urls + super().get_urls()

    def _viewable(self, request, object_id) -> Execution:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Execution.objects.select_related("job"), pk=object_id)

    def log_view(self, request, object_id):
        """New log bytes from ``?offset=`` on, and the live parts of the page."""
        execution = self._viewable(request, object_id)
        try:
            offset = max(int(request.GET.get("offset", 0)), 0)
        except ValueError:
            return JsonResponse({"error": "offset must be a whole number"}, status=400)
        page = logs.read_page(execution, offset, LOG_PAGE_BYTES)
        return JsonResponse(
            {
                "status": execution.status,
                "final": page.final,
                "log": page.text,
                "next_offset": page.next_offset,
                "more": page.full,
                "html": live_fields(execution),
            }
        )

    def artifact_view(self, request, object_id, name):
        execution = self._viewable(request, object_id)
        artifact = execution.artifacts.filter(name=name).first()
        if artifact is None:
            raise Http404("No such artifact.")
        return downloads.serve(
            request,
            artifact.file.name,
            filename=artifact.name,
            content_type=artifact.content_type,
            size=artifact.size,
        )

    def _controllable(self, request, object_id):
        """The run a Cancel/Re-run button acts on: POST only, viewable, and run_job held."""
        if request.method != "POST":
            return None
        execution = self._viewable(request, object_id)
        if not self.has_run_permission(request):
            raise PermissionDenied
        return execution

    def cancel_view(self, request, object_id):
        if (execution := self._controllable(request, object_id)) is None:
            return HttpResponseNotAllowed(["POST"])
        try:
            execution = control.cancel(execution)
        except NotCancellable as exc:
            self.message_user(request, str(exc), messages.WARNING)
        else:
            word = "cancelled" if execution.status == Status.CANCELLED else "asked to stop"
            self.message_user(request, f"Run #{execution.pk} {word}.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:scripts_app_execution_change", args=[execution.pk])
        )

    def rerun_view(self, request, object_id):
        if (execution := self._controllable(request, object_id)) is None:
            return HttpResponseNotAllowed(["POST"])
        try:
            new = control.rerun(execution, user=request.user)
        except (InvalidParams, JobNotRunnable) as exc:
            self.message_user(request, f"Not started: {exc}", messages.ERROR)
            target = execution
        else:
            self.message_user(request, f"Started run #{new.pk} (re-run of #{execution.pk}).")
            target = new
        return HttpResponseRedirect(reverse("admin:scripts_app_execution_change", args=[target.pk]))

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Dashboard",
            "media": self.media,
            **dashboard.overview(),
        }
        return TemplateResponse(request, "scripts_app/admin/dashboard.html", context)
