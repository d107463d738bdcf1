"""Parseq as a backend for Django's task API (``django-tasks`` on Django 5.2,
``django.tasks`` on Django 6): ``scripts_app.tasks_backend.ParseqBackend``.

``backend`` is the backend, ``recording`` makes an enqueued task a run (its job, its
Execution, the send), ``results`` reads a run back as a TaskResult, ``hooks`` sends the
framework's started/finished signals from the worker. The task API itself is imported
from ``scripts_app.task_api`` only.
"""

from scripts_app.tasks_backend.backend import ParseqBackend

__all__ = ["ParseqBackend"]
