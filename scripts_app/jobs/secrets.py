"""Per-job secrets: encrypted at rest, write-only, handed to the script as env vars.

The key is ``PARSEQ_SECRETS_KEY`` — one or more Fernet keys, comma-separated,
newest first (older ones still decrypt, so keys can be rotated; a secret saved again is
encrypted with the newest). On the embedded defaults the settings make it a generated
key kept under PARSEQ_DATA_DIR, followed by the key of the old built-in development
SECRET_KEY, so secrets saved before keys were generated stay readable. Otherwise,
unset, the key is derived from ``SECRET_KEY``; then changing SECRET_KEY makes the
stored secrets unreadable, and runs of jobs with secrets fail saying so.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from scripts_app import validators
from scripts_app.errors import SecretUnreadable
from scripts_app.jobs.keys import derived_key
from scripts_app.jobs.masking import Masker
from scripts_app.models import Job, JobSecret


def cipher() -> MultiFernet:
    configured = [k.strip() for k in settings.PARSEQ_SECRETS_KEY.split(",") if k.strip()]
    keys = configured or [derived_key(settings.SECRET_KEY).decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "PARSEQ_SECRETS_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated; "
            'make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from None


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode()


def decrypt(ciphertext: str) -> str:
    return cipher().decrypt(ciphertext.encode()).decode()


def set_secret(job: Job, name: str, value: str) -> JobSecret:
    """Create or replace the secret ``name`` of ``job``. Raises ValidationError on a bad name."""
    validators.validate_env_name(name)
    if not isinstance(value, str) or value == "":
        raise ValidationError("A secret needs a non-empty text value.", code="secret_value")
    with transaction.atomic():
        secret, _ = JobSecret.objects.update_or_create(
            job=job, name=name, defaults={"ciphertext": encrypt(value)}
        )
    return secret


def delete_secret(job: Job, name: str) -> bool:
    """Remove the secret ``name``; False when the job had none by that name."""
    deleted, _ = JobSecret.objects.filter(job=job, name=name).delete()
    return bool(deleted)


def secret_names(job: Job) -> list[str]:
    return list(JobSecret.objects.filter(job=job).order_by("name").values_list("name", flat=True))


def secret_env(job: Job) -> dict[str, str]:
    """Every secret of ``job`` decrypted, as environment variables for its script."""
    env = {}
    for name, ciphertext in JobSecret.objects.filter(job=job).values_list("name", "ciphertext"):
        try:
            env[name] = decrypt(ciphertext)
        except InvalidToken:
            raise SecretUnreadable(
                f"secret {name} cannot be decrypted: PARSEQ_SECRETS_KEY (or SECRET_KEY) changed "
                "since it was saved; save the secret again"
            ) from None
    return env


def masker_for(values: dict[str, str]) -> Masker:
    return Masker(values.values())
