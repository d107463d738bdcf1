"""The choices of the models' fields (kept apart so models.py holds only the models)."""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


FINAL_STATUSES = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED, Status.SKIPPED}
)
ACTIVE_STATUSES = frozenset({Status.QUEUED, Status.RUNNING})


class Trigger(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    HTTP = "http", "HTTP"
    CLI = "cli", "Command line"
    SCHEDULE = "schedule", "Schedule"
    RETRY = "retry", "Retry"
    TASK = "task", "Task (Django task API)"


class MisfirePolicy(models.TextChoices):
    COALESCE = "coalesce", "Coalesce: one run for the whole missed window"
    SKIP = "skip", "Skip: record missed slots as skipped"
    CATCH_UP = "catch_up", "Catch up: run every missed slot (bounded)"


class OverlapPolicy(models.TextChoices):
    SKIP = "skip", "Skip: record a skipped run"
    QUEUE = "queue", "Queue: run after the current one"
    ALLOW = "allow", "Allow: run in parallel"


class NotifyOn(models.TextChoices):
    NEVER = "never", "Never"
    FAILURE = "failure", "On failure"
    SUCCESS = "success", "On success"
    ALWAYS = "always", "Always"


class JobKind(models.TextChoices):
    # Scripts run in a bare interpreter; code and task jobs are the project's, with Django.
    SCRIPT = "script", "Uploaded script"
    CODE = "code", "Code job (@job)"
    TASK = "task", "Task (Django task API)"


class Network(models.TextChoices):
    ON = "on", "On"
    OFF = "off", "Off: an empty network namespace"
