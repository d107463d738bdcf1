"""The Fernet key derived from a Django ``SECRET_KEY`` (no Django here: the settings
module uses it too, to keep secrets saved under an earlier key readable)."""

from __future__ import annotations

import base64
import hashlib


def derived_key(secret_key: str) -> bytes:
    digest = hashlib.sha256(b"parseq-job-secrets:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)
