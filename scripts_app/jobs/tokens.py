"""Per-job trigger tokens: ``GET``/``POST /scripts/<slug>/?token=…`` (or the header
``X-Parseq-Token``) starts a run of that job alone, with no other credentials — for
crontab lines and webhook senders.

A token is random (256 bits), shown once when it is made and stored only as its
sha256: a slow hash adds nothing to a secret that long, and the check stays cheap.
Making a new one replaces the old one; ``revoke`` leaves the job without any.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from scripts_app.models import Job

TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rotate(job: Job) -> str:
    """A new trigger token for ``job`` (the previous one stops working); shown once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    job.trigger_token_hash = _digest(token)
    Job.objects.filter(pk=job.pk).update(trigger_token_hash=job.trigger_token_hash)
    return token


def revoke(job: Job) -> None:
    job.trigger_token_hash = ""
    Job.objects.filter(pk=job.pk).update(trigger_token_hash="")


def has_token(job: Job) -> bool:
    return bool(job.trigger_token_hash)


def matches(job: Job, token: str) -> bool:
    """Whether ``token`` is ``job``'s trigger token (a job without one matches nothing)."""
    if not job.trigger_token_hash or not token:
        return False
    return hmac.compare_digest(job.trigger_token_hash, _digest(token))
