"""E-mail when a run ends: per the job's ``notify_on`` (never / failure / success / always)
to its recipients, and always to the recipients its trigger named for that run alone
(``Execution.notify_emails``). The subject is ``PARSEQ_MAIL_SUBJECT``. A result in seed
004's shape, ``{"result": X, "file_path": P}``, makes the mail's text ``str(X)`` with the
file ``P`` attached (``Execution.mail_attachment``, set by the worker).

Sent after the final status is written, so a slow or dead mail server never
delays it. Each run is mailed at most once: an attempt is claimed by bumping
``notify_attempts`` with a conditional UPDATE, success sets ``notified_at``.
While SMTP is down the scheduler retries (``retry_pending``) every
PARSEQ_NOTIFY_RETRY_SECONDS × attempts, up to PARSEQ_NOTIFY_MAX_ATTEMPTS.
"""

from __future__ import annotations

import json
import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from scripts_app.errors import SecretUnreadable
from scripts_app.jobs import secrets
from scripts_app.jobs.masking import Masker
from scripts_app.models import Execution, Job, NotifyOn, Status
from scripts_app.observability import tallies

logger = logging.getLogger(__name__)

FAILURE_STATUSES = frozenset({Status.FAILED, Status.TIMED_OUT})
# Skipped runs never ran; there is nothing to tell.
NOTIFIABLE_STATUSES = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED}
)
SUMMARY_CHARS = 2000
SEND_ERRORS = (smtplib.SMTPException, OSError)


def wants(notify_on: str, status: str) -> bool:
    if status not in NOTIFIABLE_STATUSES:
        return False
    if notify_on == NotifyOn.ALWAYS:
        return True
    if notify_on == NotifyOn.FAILURE:
        return status in FAILURE_STATUSES
    if notify_on == NotifyOn.SUCCESS:
        return status == Status.SUCCEEDED
    return False


def wanted_q() -> Q:
    """The runs that may want a mail, in SQL over executions joined to their job: the job's
    ``notify_on`` asks for their status, or their trigger named recipients."""
    return (
        Q(job__notify_on=NotifyOn.ALWAYS, status__in=NOTIFIABLE_STATUSES)
        | Q(job__notify_on=NotifyOn.FAILURE, status__in=FAILURE_STATUSES)
        | Q(job__notify_on=NotifyOn.SUCCESS, status=Status.SUCCEEDED)
        | (Q(status__in=NOTIFIABLE_STATUSES) & ~Q(notify_emails=""))
    )


def _addresses(text: str) -> list[str]:
    return [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]


def recipients(job: Job) -> list[str]:
    return _addresses(job.notify_emails) or [address for _name, address in settings.ADMINS]


def run_recipients(execution: Execution) -> list[str]:
    """Who is mailed about this run: whom its trigger named (whatever the job's
    ``notify_on``), and the job's recipients when the job wants this status mailed."""
    if execution.status not in NOTIFIABLE_STATUSES:
        return []
    named = _addresses(execution.notify_emails)
    job_wants = wants(execution.job.notify_on, execution.status)
    return list(dict.fromkeys(named + (recipients(execution.job) if job_wants else [])))


def subject(execution: Execution) -> str:
    """``PARSEQ_MAIL_SUBJECT`` with the run's fields (checked when the settings load)."""
    job = execution.job
    return settings.PARSEQ_MAIL_SUBJECT.format(
        job=job.name,
        slug=job.slug,
        run=execution.pk,
        status=Status(execution.status).label.lower(),
        attempt=execution.attempt,
    )


def run_url(execution: Execution) -> str:
    try:
        path = reverse("admin:scripts_app_execution_change", args=[execution.pk])
    except NoReverseMatch:  # a host project without the admin: the API view of the run
        path = f"/api/v1/executions/{execution.pk}/"
    return settings.PARSEQ_BASE_URL + path


def artifact_url(execution: Execution, name: str) -> str:
    return f"{settings.PARSEQ_BASE_URL}/api/v1/executions/{execution.pk}/artifacts/{name}"


def summarize(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS] + "\n… (truncated)"
    return text


def _masker(job: Job) -> Masker:
    try:
        return secrets.masker_for(secrets.secret_env(job))
    except SecretUnreadable:
        return Masker([])  # the stored fields were masked when the run ended


def _facts(execution: Execution) -> list[str]:
    job = execution.job
    duration = execution.duration
    lines = [
        f"Job: {job.name} ({job.slug})",
        f"Run: #{execution.pk}, attempt {execution.attempt}",
        f"Status: {Status(execution.status).label}",
        f"Started: {execution.started_at.isoformat() if execution.started_at else '-'}",
        f"Finished: {execution.finished_at.isoformat() if execution.finished_at else '-'}",
        f"Duration: {duration.total_seconds():.2f} s" if duration else "Duration: -",
        f"Link: {run_url(execution)}",
        "",
    ]
    retry = Execution.objects.filter(
        retry_of_id=execution.retry_of_id or execution.pk, attempt=execution.attempt + 1
    ).first()
    if retry is not None:
        when = retry.not_before.isoformat() if retry.not_before else "now"
        lines.insert(3, f"Retry: attempt {retry.attempt} is run #{retry.pk}, not before {when}")
    return lines


def _files(execution: Execution) -> tuple[list[tuple[str, bytes, str]], list[str]]:
    """Artifacts to attach (the result's named file first) within the size budget, and
    lines linking the others."""
    artifacts = sorted(execution.artifacts.all(), key=lambda a: a.name != execution.mail_attachment)
    attachments, linked = [], []
    room = settings.PARSEQ_NOTIFY_ATTACH_BYTES
    for artifact in artifacts:
        if artifact.size <= room:
            with artifact.file.open("rb") as handle:
                attachments.append((artifact.name, handle.read(), artifact.content_type))
            room -= artifact.size
        else:
            url = artifact_url(execution, artifact.name)
            linked.append(f"  {artifact.name} ({artifact.size:,} bytes): {url}")
    return attachments, linked


def build_message(execution: Execution) -> EmailMessage:
    """The e-mail for a finished run: facts, error or result, files attached or linked.
    Seed 004's ``{"result": X, "file_path": P}``: the text is ``str(X)``, the facts follow."""
    result = execution.result
    seed_text = isinstance(result, dict) and "result" in result and "file_path" in result
    lines = [] if seed_text else _facts(execution)
    if execution.error:
        lines += ["Error:", execution.error, ""]
    if seed_text:
        lines = [str(result["result"]), "", "-- ", *_facts(execution), *lines]
    elif result is not None:
        lines += ["Result:", summarize(result), ""]
    attachments, linked = _files(execution)
    if attachments:
        lines += ["Attached: " + ", ".join(name for name, _, _ in attachments)]
    if linked:
        lines += ["Too large to attach, download:", *linked]
    masker = _masker(execution.job)
    message = EmailMessage(
        subject=masker.text(subject(execution)),
        body=masker.text("\n".join(lines)),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=run_recipients(execution),
    )
    for name, content, content_type in attachments:
        message.attach(name.replace("/", "_"), content, content_type)
    return message


def notify(execution: Execution) -> bool:
    """One attempt to mail a finished run; True when sent now."""
    if execution.notified_at or not run_recipients(execution):
        return False
    attempts = execution.notify_attempts
    claimed = Execution.objects.filter(
        pk=execution.pk, notified_at__isnull=True, notify_attempts=attempts
    ).update(notify_attempts=attempts + 1)
    if not claimed:  # another process is on it, or already did it
        return False
    execution.notify_attempts = attempts + 1
    try:
        build_message(execution).send()
    except SEND_ERRORS as exc:
        logger.warning(
            "mail for execution %s failed (attempt %s): %s", execution.pk, attempts + 1, exc
        )
        tallies.count_mail_failure()  # parseq_email_failures_total
        return False
    now = timezone.now()
    Execution.objects.filter(pk=execution.pk).update(notified_at=now)
    execution.notified_at = now
    return True


def retry_pending(now: datetime | None = None) -> int:
    """Scheduler step: retry mails that failed (or never got their first attempt)."""
    now = now or timezone.now()
    step = settings.PARSEQ_NOTIFY_RETRY_SECONDS
    window = now - timedelta(seconds=step * settings.PARSEQ_NOTIFY_MAX_ATTEMPTS * 2 + 86400)
    pending = (
        Execution.objects.filter(
            notified_at__isnull=True,
            notify_attempts__lt=settings.PARSEQ_NOTIFY_MAX_ATTEMPTS,
            finished_at__gte=window,
        )
        .filter(wanted_q())
        .select_related("job")
        .order_by("finished_at")[:100]
    )
    sent = 0
    for execution in pending:
        if execution.finished_at + timedelta(seconds=step * execution.notify_attempts) > now:
            continue
        sent += notify(execution)
    return sent
