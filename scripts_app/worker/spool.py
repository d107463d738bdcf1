"""Outputs that could not be stored yet: kept on the worker host, uploaded later.

When storage (S3) is unreachable as a run ends, the run still gets its final
status and result, and its ``error`` says that the outputs are not stored yet.
The log and output files are moved from the run's workspace into
``PARSEQ_SPOOL_DIR/<execution id>/`` (same layout as a workspace), and the
worker's SpoolUploader retries the upload until it works, then removes the note.
Nothing is dropped silently: until then the files exist on exactly one disk, and
the run says where.
"""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction

from scripts_app.models import Execution
from scripts_app.worker import outputs
from scripts_app.worker.runner.workspace import Workspace

logger = logging.getLogger(__name__)

PENDING_NOTE = "outputs not stored yet"

try:  # S3 errors, when django-storages' S3 backend is in use
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    STORAGE_ERRORS: tuple[type[BaseException], ...] = (
        OSError,
        Boto3Error,
        BotoCoreError,
        ClientError,
    )
except ImportError:  # pragma: no cover - boto3 is a runtime dependency
    STORAGE_ERRORS = (OSError,)


def spool_path(execution_id: int) -> Path:
    return Path(settings.PARSEQ_SPOOL_DIR) / str(execution_id)


def note(exc: BaseException, where: Path) -> str:
    reason = f"{type(exc).__name__}: {exc}"[:300]
    return (
        f"{PENDING_NOTE} (storage failed: {reason}); kept in {where} on "
        f"{socket.gethostname()} and retried every {settings.PARSEQ_SPOOL_RETRY_SECONDS} s"
    )


def keep(execution_id: int, ws: Workspace) -> Path:
    """Copy the run's log and outputs out of its workspace (which is about to be deleted)."""
    target = spool_path(execution_id)
    if target.exists():
        shutil.rmtree(target)
    kept = Workspace(target)
    kept.control.mkdir(parents=True)
    if ws.log_file.exists():
        shutil.copy2(ws.log_file, kept.log_file)
    shutil.copytree(ws.outputs, kept.outputs, symlinks=True)
    return target


def without_note(error: str) -> str:
    lines = [line for line in error.splitlines() if not line.startswith(PENDING_NOTE)]
    return "\n".join(lines).strip()


def store_spooled() -> list[int]:
    """Upload every spooled run's outputs; the ids stored this time."""
    base = Path(settings.PARSEQ_SPOOL_DIR)
    if not base.is_dir():
        return []
    stored = []
    for folder in sorted(base.iterdir()):
        if not folder.name.isdigit():
            continue
        execution = Execution.objects.filter(pk=int(folder.name)).first()
        if execution is None:  # the run was deleted: nothing left to attach the files to
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            # One transaction: a reader sees the artifacts and the cleared note together.
            with transaction.atomic():
                fields = outputs.store_outputs(execution, Workspace(folder))
                Execution.objects.filter(pk=execution.pk).update(
                    error=without_note(execution.error), **fields
                )
        except STORAGE_ERRORS as exc:
            logger.warning("spooled outputs of execution %s still not stored: %s", folder.name, exc)
            break  # storage is still down; try them all again next round
        shutil.rmtree(folder, ignore_errors=True)
        stored.append(execution.pk)
        logger.info("spooled outputs of execution %s are stored now", execution.pk)
    return stored


def store_spooled_safely() -> list[int]:
    """``store_spooled`` for a background loop: a database hiccup waits for the next round."""
    try:
        return store_spooled()
    except DatabaseError as exc:
        logger.warning("spool upload deferred: database error: %s", exc)
        return []
