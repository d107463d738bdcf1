"""A code job's run on the worker: the same supervised process as a script's, but its
Django child (``codechild``) forked from the Django fork server (``codeserver``), with
the worker's environment under the run's variables."""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path

from scripts_app.models import Job, JobKind
from scripts_app.worker.runner import zygote
from scripts_app.worker.runner.process import ProcessSpec
from scripts_app.worker.runner.workspace import Workspace, clean_env

logger = logging.getLogger(__name__)

CHILD_MODULE = "scripts_app.worker.codechild"


def is_code(job: Job) -> bool:
    """A code job or a task: the project's code, run with Django (no script version)."""
    return job.kind != JobKind.SCRIPT


@functools.cache
def python_path() -> str:
    """This worker's import path, for the child (the project's modules, wherever the
    worker was started from)."""
    return os.pathsep.join(dict.fromkeys(os.path.abspath(p or os.curdir) for p in sys.path))


def code_env(run_env: dict[str, str]) -> dict[str, str]:
    """Trusted code starts from the worker's environment (settings, database); the run's
    variables (its files, env, secrets, limits) on top; its HOME stays the worker's."""
    env = {**os.environ, **run_env}
    env["HOME"] = os.environ.get("HOME", run_env["HOME"])
    env["PYTHONPATH"] = python_path()
    return env


def apply(spec: ProcessSpec, job: Job) -> ProcessSpec:
    """Make a script's spec the spec of ``job``'s code."""
    spec.env = code_env(spec.env)
    spec.env["PARSEQ_JOB_KIND"] = str(job.kind)
    spec.env["PARSEQ_ENTRYPOINT"] = job.entrypoint
    spec.child_module = CHILD_MODULE
    spec.server_module = zygote.CODE_SERVER_MODULE
    return spec


def warm_server() -> None:
    """Start this worker's Django fork server before its first code run (at boot, in the
    background: a Django start-up takes a second or two). Only when there are code jobs."""
    if not Job.objects.exclude(kind=JobKind.SCRIPT).exists():
        return
    env = code_env(clean_env(Workspace(Path("/nonexistent")), {}))
    try:
        zygote.for_env(env, module=zygote.CODE_SERVER_MODULE)._ensure()
    except OSError:
        logger.exception("the Django fork server did not start; code jobs are spawned")
