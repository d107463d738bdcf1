"""The jobs admin: a list with schedule and health, a job page with recent runs,
the schedule in words, write-only secrets, and "Run now" with a generated params form."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Cast, NullIf
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from scripts_app import schedule
from scripts_app.admin import codejobs, display, environments
from scripts_app.admin.forms import JobAdminForm, RunParamsForm
from scripts_app.admin.tokens import TriggerTokenAdmin
from scripts_app.errors import InvalidParams, JobNotRunnable
from scripts_app.jobs import saving
from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.runs import dispatch

RECENT_RUNS = 20
FINISHED = [Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT]
UPCOMING = 5

LAYOUT = [
    (None, [*codejobs.DISPLAY, "name", "slug", "description", "enabled", "trigger_token_state"]),
    ("Script", ["script", "script_path", "requirements", *environments.FIELDS]),
    ("Parameters", ["params_schema", "default_params"]),
    (
        "Schedule",
        [
            "cron",
            "timezone",
            "start_at",
            "repeat_every",
            "misfire_policy",
            "overlap_policy",
            "schedule_summary",
            "next_fire_times",
        ],
    ),
    (
        "Limits and retries",
        [
            "timeout",
            "queue",
            "max_concurrency",
            "max_retries",
            "retry_backoff",
            "memory_limit_mb",
            "cpu_time_limit",
            "log_limit_bytes",
            "output_limit_bytes",
        ],
    ),
    ("Notifications", ["notify_on", "notify_emails"]),
    (
        "Environment and secrets",
        ["env", "network", "secret_names", "secret_name", "secret_value", "remove_secrets"],
    ),
]
SECRET_INPUTS = {"secret_name", "secret_value", "remove_secrets"}


def _latest_run(field: str):
    runs = Execution.objects.filter(job=OuterRef("pk")).order_by("-created_at", "-id")
    return Subquery(runs.values(field)[:1])


class RecentRunsInline(admin.TabularInline):
    """The job's latest runs, read-only; the full history is the executions list."""

    model = Execution
    verbose_name = "recent run"
    verbose_name_plural = f"Recent runs (latest {RECENT_RUNS})"
    fields = ["run", "badge", "trigger", "triggered_by", "created", "duration", "error_line"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("triggered_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Run")
    def run(self, execution):
        url = reverse("admin:scripts_app_execution_change", args=[execution.pk])
        return format_html('<a href="{}">#{}</a>', url, execution.pk)

    @admin.display(description="Status")
    def badge(self, execution):
        return display.status_badge(execution.status)

    @admin.display(description="Created")
    def created(self, execution):
        return display.relative_time(execution.created_at)

    @admin.display(description="Duration")
    def duration(self, execution):
        return display.format_duration(execution.duration)

    @admin.display(description="Error")
    def error_line(self, execution):
        return (execution.error or "").splitlines()[-1][:120] if execution.error else ""


@admin.register(Job)
class JobAdmin(codejobs.CodeJobFields, TriggerTokenAdmin, admin.ModelAdmin):
    form = JobAdminForm
    change_form_template = "scripts_app/admin/job_change_form.html"
    change_list_template = "scripts_app/admin/job_change_list.html"
    list_display = [
        "name",
        "slug",
        "enabled",
        "schedule",
        "next_run",
        "last_status",
        "last_run",
        "success_rate",
    ]
    list_display_links = ["name"]
    list_filter = ["enabled"]
    search_fields = ["name", "slug", "description"]
    # Filled in from the name as the server spells it (static/scripts_app/slugs.js); left
    # empty, the server makes it on save (JobAdminForm).
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = [
        "schedule_summary",
        "next_fire_times",
        "secret_names",
        "trigger_token_state",
        *environments.FIELDS,
    ]
    inlines = [RecentRunsInline]
    actions = ["run_now", "enable_jobs", "disable_jobs", "new_trigger_token"]

    class Media:
        css = {"all": ["scripts_app/admin.css"]}
        js = ["admin/js/urlify.js", "scripts_app/slugs.js"]  # ours wraps Django's URLify

    # -- permissions -------------------------------------------------------------------

    def has_run_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("scripts_app.run_job")

    # -- list --------------------------------------------------------------------------

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_run_status=_latest_run("status"),
                last_run_at=_latest_run("created_at"),
                finished_runs=Count("executions", filter=Q(executions__status__in=FINISHED)),
                good_runs=Count("executions", filter=Q(executions__status=Status.SUCCEEDED)),
            )
            .annotate(
                good_share=Cast(F("good_runs"), FloatField())
                / NullIf(Cast(F("finished_runs"), FloatField()), 0.0)
            )
        )

    @admin.display(description="Schedule")
    def schedule(self, job):
        return schedule.describe(job) if job.has_schedule else "—"

    @admin.display(description="Next run", ordering="next_run_at")
    def next_run(self, job):
        if not job.has_schedule:
            return "—"
        if not job.enabled:
            return "paused"
        return display.relative_time(job.next_run_at)

    @admin.display(description="Last status", ordering="last_run_status")
    def last_status(self, job):
        return display.status_badge(job.last_run_status)

    @admin.display(description="Last run", ordering="last_run_at")
    def last_run(self, job):
        return display.relative_time(job.last_run_at)

    @admin.display(description="Success rate", ordering="good_share")
    def success_rate(self, job):
        if not job.finished_runs:
            return "—"
        share = job.good_runs / job.finished_runs
        css = "good" if share >= 0.9 else "fair" if share >= 0.5 else "poor"
        return format_html(
            '<span class="parseq-rate parseq-rate-{}" title="{} of {} finished runs">{}%</span>',
            css,
            job.good_runs,
            job.finished_runs,
            round(share * 100),
        )

    # -- actions -----------------------------------------------------------------------

    @admin.action(description="Run now (default params)", permissions=["run"])
    def run_now(self, request, queryset):
        started = []
        for job in queryset:
            try:
                execution = dispatch.trigger(job, trigger=Trigger.ADMIN, user=request.user)
            except (InvalidParams, JobNotRunnable) as exc:
                self.message_user(request, f"{job}: not started — {exc}", messages.ERROR)
            else:
                started.append(f"{job.slug} #{execution.pk}")
        if started:
            self.message_user(request, f"Started {', '.join(started)}.", messages.SUCCESS)

    @admin.action(description="Enable automatic runs", permissions=["change"])
    def enable_jobs(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable automatic runs", permissions=["change"])
    def disable_jobs(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        changed = 0
        for job in queryset.filter(enabled=not enabled):
            job.enabled = enabled
            job.save()  # save(), not update(): the schedule hooks recompute next_run_at
            changed += 1
        word = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} job(s) {word}.", messages.SUCCESS)

    # -- the job page ------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        names = list(self.get_fields(request, obj))
        can_edit = self.has_change_permission(request, obj) if obj else True
        if not can_edit:
            names = [n for n in names if n not in SECRET_INPUTS]
        if obj is None:
            later = {"schedule_summary", "next_fire_times", "trigger_token_state"}
            names = [n for n in names if n not in later]
        placed: set[str] = set()
        fieldsets = []
        for title, group in LAYOUT:
            fields = [n for n in group if n in names]
            placed.update(fields)
            if fields:
                options = {"fields": fields}
                if title in ("Limits and retries", "Notifications"):
                    options["classes"] = ["collapse"]
                fieldsets.append((title, options))
        rest = [n for n in names if n not in placed]
        if rest:
            fieldsets.append(("Other", {"fields": rest, "classes": ["collapse"]}))
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        names = self._secret_names(obj)

        class Form(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, **inner)
                if "remove_secrets" in self.fields:
                    self.set_secret_names(names)

        return Form

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, RecentRunsInline) and obj is not None and obj.pk:
            recent = obj.executions.order_by("-created_at", "-id").values_list("pk", flat=True)[
                :RECENT_RUNS
            ]
            kwargs["queryset"] = kwargs["queryset"].filter(pk__in=list(recent))
        return kwargs

    def save_model(self, request, obj, form, change):
        def write() -> Job:
            super(JobAdmin, self).save_model(request, obj, form, change)
            return obj

        changed = bool(saving.VERSIONED_FIELDS & set(form.changed_data))
        saving.save_job(write, script_changed=changed)  # stores the lock the form resolved
        self._save_secrets(request, obj, form)

    def _save_secrets(self, request, job, form) -> None:
        name = form.cleaned_data.get("secret_name")
        removed = form.cleaned_data.get("remove_secrets") or []
        if not name and not removed:
            return
        from scripts_app.jobs import secrets

        for old in removed:
            secrets.delete_secret(job, old)
        if name:
            secrets.set_secret(job, name, form.cleaned_data["secret_value"])
        changed = ", ".join(
            filter(None, [f"set {name}" if name else "", *[f"removed {n}" for n in removed]])
        )
        self.message_user(request, f"Secrets: {changed}.", messages.SUCCESS)

    @staticmethod
    def _secret_names(job) -> list[str]:
        if job is None or not job.pk:
            return []
        from scripts_app.jobs import secrets

        return list(secrets.secret_names(job))

    @admin.display(description="Secrets")
    def secret_names(self, job):
        names = self._secret_names(job)
        if not names:
            return "none"
        return format_html_join(" ", "<code>{}</code>", ((n,) for n in names))

    @admin.display(description="Schedule in words")
    def schedule_summary(self, job):
        if not job.has_schedule:
            return "No schedule: runs start only by hand, HTTP, the API or the CLI."
        words = schedule.describe(job)
        if not job.enabled:
            words = f"{words} (automatic runs are disabled)"
        return words

    @admin.display(description=f"Next {UPCOMING} fire times")
    def next_fire_times(self, job):
        if not job.has_schedule:
            return "—"
        return display.fire_times(schedule.upcoming(job, count=UPCOMING))

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/run/",
                self.admin_site.admin_view(self.run_view),
                name="scripts_app_job_run",
            ),
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def run_view(self, request, object_id):
        """The "Run now" page: a form generated from the job's params schema."""
        job = get_object_or_404(Job, pk=object_id)
        if not (
            self.has_view_or_change_permission(request, job) and self.has_run_permission(request)
        ):
            raise PermissionDenied
        form = RunParamsForm(job, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                execution = dispatch.trigger(
                    job,
                    params=form.params(),
                    trigger=Trigger.ADMIN,
                    user=request.user,
                    email=form.recipients(),
                )
            except InvalidParams as exc:
                form.add_schema_errors(exc.errors)
            except JobNotRunnable as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request, f"Started run #{execution.pk} of {job}.", messages.SUCCESS
                )
                if request.user.has_perm("scripts_app.view_execution"):
                    target = reverse("admin:scripts_app_execution_change", args=[execution.pk])
                else:
                    target = reverse("admin:scripts_app_job_change", args=[job.pk])
                return HttpResponseRedirect(target)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Run {job}",
            "job": job,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "scripts_app/admin/run_form.html", context)
