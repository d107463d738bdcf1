"""Jobs, the script versions they run, and the record of every run."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from scripts_app import validators
from scripts_app.choices import (  # noqa: F401 (imported from here by the rest of the app)
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    JobKind,
    MisfirePolicy,
    Network,
    NotifyOn,
    OverlapPolicy,
    Status,
    Trigger,
)


def script_upload_to(instance: Job, filename: str) -> str:
    return f"scripts/{instance.slug}/{filename}"


class Job(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, validators=[validators.validate_job_slug])
    description = models.TextField(blank=True)
    script = models.FileField(
        upload_to=script_upload_to,
        blank=True,
        max_length=500,
        validators=[validators.validate_script_upload],
        help_text="A .py file. Each new upload becomes a new version; past runs keep theirs.",
    )
    script_path = models.CharField(
        max_length=300,
        blank=True,
        validators=[validators.validate_script_path],
        help_text="Or a path relative to the parsers/ directory, e.g. hello.py.",
    )
    kind = models.CharField(max_length=8, choices=JobKind.choices, default=JobKind.SCRIPT)
    entrypoint = models.CharField(max_length=300, blank=True, editable=False)  # "mod:qualname"
    network = models.CharField(
        max_length=4,
        choices=Network.choices,
        default=Network.ON,
        help_text="Off: the script runs in its own empty network namespace (sandbox only).",
    )
    enabled = models.BooleanField(default=True, help_text="Automatic (scheduled) runs are on.")
    default_params = models.JSONField(default=dict, blank=True)
    params_schema = models.JSONField(
        default=dict, blank=True, validators=[validators.validate_params_schema]
    )
    env = models.JSONField(
        default=dict,
        blank=True,
        validators=[validators.validate_env_mapping],
        help_text="Extra environment variables for the script (not secret).",
    )
    requirements = models.TextField(
        blank=True,
        help_text="Packages the script needs, requirements.txt syntax (one per line), for "
        "scripts that cannot carry a PEP 723 '# /// script' block. Locked when saved.",
    )
    # Why the job's current script could not be locked when a run was triggered (a
    # parsers/ file edited in place); cleared by the next successful lock.
    dependency_error = models.TextField(blank=True, editable=False)
    timeout = models.PositiveIntegerField(default=3600, help_text="Seconds.")
    queue = models.CharField(
        max_length=100, default="default", validators=[validators.validate_queue_name]
    )

    # Schedule (see schedule/): cron, interval from start_at, or one-off at start_at.
    cron = models.CharField(max_length=120, blank=True, validators=[validators.validate_cron])
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validators.validate_timezone]
    )
    start_at = models.DateTimeField(null=True, blank=True)
    repeat_every = models.DurationField(null=True, blank=True)
    misfire_policy = models.CharField(
        max_length=16, choices=MisfirePolicy.choices, default=MisfirePolicy.COALESCE
    )
    overlap_policy = models.CharField(
        max_length=16, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP
    )
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Controls
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)
    max_retries = models.PositiveIntegerField(default=0)
    retry_backoff = models.PositiveIntegerField(
        default=30, help_text="Seconds; doubles per attempt."
    )
    memory_limit_mb = models.PositiveIntegerField(null=True, blank=True)
    cpu_time_limit = models.PositiveIntegerField(null=True, blank=True, help_text="CPU seconds.")
    log_limit_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    output_limit_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    notify_on = models.CharField(max_length=16, choices=NotifyOn.choices, default=NotifyOn.NEVER)
    notify_emails = models.TextField(blank=True, help_text="Comma-separated; empty means ADMINS.")
    # sha256 of the job's trigger token (jobs/tokens.py); the token itself is shown once.
    trigger_token_hash = models.CharField(max_length=64, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("run_job", "Can run jobs")]
        indexes = [
            # The scheduler's only query on an idle tick reads this index.
            models.Index(
                fields=["next_run_at"],
                condition=Q(enabled=True, next_run_at__isnull=False),
                name="job_due_idx",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        key = self._schedule_key()
        touches_schedule = update_fields is None or bool(
            set(update_fields) & set(self.SCHEDULE_FIELDS)
        )
        if touches_schedule and key != getattr(self, "_saved_schedule", None):
            from scripts_app import schedule

            try:
                self.next_run_at = schedule.next_run_at(self, timezone.now())
            except (ValueError, LookupError):  # unvalidated bad cron/zone: never fire
                self.next_run_at = None
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "next_run_at"}
        super().save(*args, **kwargs)
        self._saved_schedule = key

    def get_absolute_url(self) -> str:
        return reverse("scripts_app:job", args=[self.slug])

    @property
    def has_schedule(self) -> bool:
        return bool(self.cron or self.start_at)

    def clean(self) -> None:
        validators.validate_job_source(self)
        validators.validate_schedule_fields(self)

    # Editing any of these (or enabling/disabling) re-plans next_run_at from now.
    SCHEDULE_FIELDS = ("cron", "timezone", "start_at", "repeat_every", "enabled")

    def _schedule_key(self) -> tuple:
        return tuple(self.__dict__.get(name) for name in self.SCHEDULE_FIELDS)

    @classmethod
    def from_db(cls, db, field_names, values):
        job = super().from_db(db, field_names, values)
        job._saved_schedule = job._schedule_key()
        return job


class ScriptVersion(models.Model):
    """An immutable copy of a job's script, addressed by its sha256, with the lock of the
    dependencies it declares (its bytes and its lock are the version)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="versions")
    sha256 = models.CharField(max_length=64)
    file = models.FileField(max_length=500)
    size = models.PositiveIntegerField()
    source = models.CharField(max_length=300, help_text="Upload name or parsers/ path.")
    created_at = models.DateTimeField(auto_now_add=True)
    # The job's `requirements` are part of the version: "" when it had none.
    requirements_sha256 = models.CharField(max_length=64, blank=True, default="")
    dependencies = models.JSONField(default=list, blank=True, help_text="As declared.")
    requires_python = models.CharField(max_length=200, blank=True, default="")
    lock = models.TextField(blank=True, default="", help_text="Pins and hashes (uv).")
    # The environment it runs in ("": the worker's own interpreter, no environment).
    lock_sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "sha256", "requirements_sha256"], name="one_version_per_content"
            )
        ]

    def __str__(self) -> str:
        return f"{self.job.slug}@{self.sha256[:12]}"


class Execution(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="executions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    queue = models.CharField(max_length=100, default="default")

    created_at = models.DateTimeField(default=timezone.now)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Retry backoff.")
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    exit_code = models.IntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.FileField(blank=True, max_length=500)
    log_size = models.PositiveBigIntegerField(default=0)

    script_version = models.ForeignKey(
        ScriptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    script_sha256 = models.CharField(max_length=64, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    # Higher starts first among runs due at the same time (Django's task API: -100…100).
    priority = models.SmallIntegerField(default=0)
    # The triggering request's id (django-structlog), so the worker's lines carry it
    # whichever way the run reaches it (a message, or the embedded relay's database read).
    request_id = models.CharField(max_length=64, blank=True, editable=False)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker.")
    pid = models.IntegerField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notify_attempts = models.PositiveIntegerField(default=0)
    notify_emails = models.TextField(
        blank=True, help_text="Recipients the trigger named for this run alone (comma-separated)."
    )
    # The artifact the result's "file_path" named: the run's e-mail attaches it.
    mail_attachment = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "scheduled_for"],
                condition=Q(scheduled_for__isnull=False, retry_of__isnull=True),
                name="one_execution_per_slot",
            )
        ]
        indexes = [
            models.Index(
                fields=["job", "status", "-created_at", "-id"], name="exec_job_status_idx"
            ),
            models.Index(fields=["job", "-created_at", "-id"], name="exec_job_idx"),
            models.Index(fields=["status", "created_at"], name="exec_status_idx"),
            # The queued runs that may start, highest priority first (runs/concurrency.py).
            models.Index(
                F("priority").desc(),
                "created_at",
                "id",
                condition=Q(status=Status.QUEUED),
                name="exec_queued_order_idx",
            ),
            models.Index(fields=["-created_at", "-id"], name="exec_newest_idx"),
            # /metrics: runs finished since the last fold (observability/tallies.py) ...
            models.Index(
                fields=["finished_at"],
                condition=Q(finished_at__isnull=False),
                name="exec_finished_idx",
            ),
            # ... and the queue gauges, from a small index of the unfinished runs only.
            models.Index(
                fields=["status", "queue", "created_at"],
                condition=Q(status__in=[Status.QUEUED, Status.RUNNING]),
                name="exec_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.job.slug} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def succeeded(self) -> bool:
        return self.status == Status.SUCCEEDED


class Artifact(models.Model):
    """A file a run left in its output directory, kept in storage."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=255)
    file = models.FileField(max_length=500)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "name"], name="one_artifact_per_name")
        ]

    def __str__(self) -> str:
        return self.name


class LogChunk(models.Model):
    """Log bytes of a running execution, so any web process can tail it live.

    The worker appends a chunk per heartbeat; when the run ends the whole log
    goes to storage (``Execution.log``) and the chunks are deleted.
    """

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="log_chunks")
    offset = models.PositiveBigIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["offset"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "offset"], name="one_chunk_per_offset")
        ]

    def __str__(self) -> str:
        return f"{self.execution_id}@{self.offset}"


class JobSecret(models.Model):
    """A named secret given to the job's script as an environment variable.

    The value is encrypted at rest (jobs/secrets.py) and never shown again.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=100, validators=[validators.validate_env_name])
    ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="one_secret_per_name")]

    def __str__(self) -> str:
        return self.name


from scripts_app.models_environments import EnvironmentCopy  # noqa: E402,F401
from scripts_app.models_operations import (  # noqa: E402,F401
    MetricsState,
    ProcessHeartbeat,
    RunTotal,
)
