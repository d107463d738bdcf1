"""A code job's run on the worker: the same supervised process as a script's, but its
Django child (``codechild``) forked from the Django fork server (``codeserver``), with
the worker's environment under the run's variables."""

from __future__ import annotations

import functools
import os
import sys

from scripts_app.models import Job, JobKind
from scripts_app.worker.runner import zygote
from scripts_app.worker.runner.process import ProcessSpec

CHILD_MODULE = "scripts_app.worker.codechild"


def is_code(job: Job) -> bool:
    """A code job or a task: the project's code, run with Django (no script version)."""
    return job.kind != JobKind.SCRIPT


@functools.cache
def python_path() -> str:
    """This worker's import path, for the child (the project's modules, wherever the
    worker was started from)."""
    return os.pathsep.join(dict.fromkeys(os.path.abspath(p or os.curdir) for p in sys.path))


def apply(spec: ProcessSpec, job: Job) -> ProcessSpec:
    """Make a script's spec the spec of ``job``'s code: trusted, so it starts from the
    worker's environment (settings, database); the run's variables (its files, env,
    secrets, limits) on top; its own HOME stays the worker's."""
    env = {**os.environ, **spec.env}
    env["HOME"] = os.environ.get("HOME", spec.env["HOME"])
    env["PYTHONPATH"] = python_path()
    env["PARSEQ_JOB_KIND"] = str(job.kind)
    env["PARSEQ_ENTRYPOINT"] = job.entrypoint
    spec.env = env
    spec.child_module = CHILD_MODULE
    spec.server_module = zygote.CODE_SERVER_MODULE
    return spec
