"""Putting a run's log and output files into Django storage (local disk or S3)."""

from __future__ import annotations

from django.core.files import File
from django.core.files.storage import default_storage

from scripts_app.files.storage_api import guess_content_type
from scripts_app.models import Artifact, Execution, LogChunk
from scripts_app.runs.logs import log_storage_name
from scripts_app.worker.runner.workspace import Workspace


def artifact_storage_name(execution_id: int, name: str) -> str:
    return f"executions/{execution_id}/artifacts/{name}"


def store_outputs(execution: Execution, ws: Workspace, *, drop_chunks: bool = True) -> dict:
    """Upload the log and every output file; the Execution fields to set.

    ``drop_chunks=False``: the run published no live log chunks, so none are deleted."""
    fields = {}
    log_size = ws.log_file.stat().st_size if ws.log_file.exists() else 0
    if log_size:  # a run that printed nothing stores no file: its log reads as empty
        with ws.log_file.open("rb") as handle:
            fields["log"] = default_storage.save(log_storage_name(execution.pk), File(handle))
    fields["log_size"] = log_size
    for name, path in ws.output_files():
        with path.open("rb") as handle:
            stored = default_storage.save(artifact_storage_name(execution.pk, name), File(handle))
        Artifact.objects.update_or_create(
            execution=execution,
            name=name,
            defaults={
                "file": stored,
                "size": path.stat().st_size,
                "content_type": guess_content_type(name),
            },
        )
    if drop_chunks:
        LogChunk.objects.filter(execution=execution).delete()
    return fields
