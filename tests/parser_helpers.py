"""Running the demo parsers in parsers/ through the real runner, in the foreground."""

from __future__ import annotations

from typing import Any

from scripts_app.models import Execution, Job, Trigger
from scripts_app.runs import dispatch
from scripts_app.worker.execution import execute


def parser_job(script_path: str, slug: str | None = None, **fields: Any) -> Job:
    """A job that runs ``parsers/<script_path>`` (the real file, not a copy)."""
    slug = slug or script_path.removesuffix(".py").replace("_", "-")
    fields.setdefault("name", slug)
    fields.setdefault("timeout", 60)
    job = Job(slug=slug, script_path=script_path, **fields)
    job.full_clean()
    job.save()
    return job


def run(job: Job, params: dict | None = None) -> Execution:
    """Record a run of ``job`` and carry it out here, as the worker would."""
    execution = dispatch.trigger(job, params=params, trigger=Trigger.CLI, send=False)
    finished = execute(execution.pk)
    assert finished is not None, "the run was not claimed"
    return finished


def artifact(execution: Execution, name: str) -> bytes:
    """The bytes of the artifact ``name`` as stored (local disk or S3)."""
    stored = execution.artifacts.get(name=name)
    with stored.file.open("rb") as handle:
        return handle.read()


def log_text(execution: Execution) -> str:
    if not execution.log:
        return ""
    with execution.log.open("rb") as handle:
        return handle.read().decode("utf-8", "replace")
