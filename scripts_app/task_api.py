"""Django's task API (DEP 14), from the one place Parseq imports it.

On Django 5.2 it is the ``django-tasks`` package; on Django 6 it is ``django.tasks``, where
the same names live (the exceptions and ``normalize_json`` under their new homes). Moving
is this module's imports and nothing else: every other module imports from here, under
Django 6's names. It imports no Parseq module, so any layer may use it.
"""

from __future__ import annotations

from django_tasks import DEFAULT_TASK_QUEUE_NAME, default_task_backend, task, task_backends
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
from django_tasks.exceptions import InvalidTaskError as InvalidTask
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued, task_finished, task_started
from django_tasks.utils import normalize_json

__all__ = [
    "DEFAULT_TASK_QUEUE_NAME",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "default_task_backend",
    "normalize_json",
    "task",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]
