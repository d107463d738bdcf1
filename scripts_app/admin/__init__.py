"""The Django admin as Parseq's console: jobs, runs, the live log, the dashboard."""

from scripts_app.admin.executions import ExecutionAdmin
from scripts_app.admin.jobs import JobAdmin

__all__ = ["ExecutionAdmin", "JobAdmin"]
