from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from scripts_app import conf

# Before any app is ready (django_dramatiq reads DRAMATIQ_BROKER in its ready()): a host
# project gets every Parseq setting it does not set itself (scripts_app/conf.py).
conf.apply_defaults(settings)


class ScriptsAppConfig(AppConfig):
    name = "scripts_app"
    verbose_name = "Scripts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_migrate

        from scripts_app import cli, hardening
        from scripts_app.code import discovery, sync

        checks.register(check_broker_middleware)
        cli.install_slug_commands()
        discovery.autodiscover()  # every app's jobs.py: its @job / BaseJob code jobs
        post_migrate.connect(sync.sync_after_migrate, sender=self)
        if getattr(settings, "PARSEQ_HIDE_DRAMATIQ_TASKS", True):
            _hide_dramatiq_tasks()
        if getattr(settings, "PARSEQ_HIDE_PROCESS_ENV", True):
            # Scripts run as the same OS user must not read our /proc/<pid>/environ.
            hardening.hide_process_environment()


def _hide_dramatiq_tasks() -> None:
    """django_dramatiq (a required app: ``rundramatiq``) registers its Task model in the
    admin; Parseq records runs as Executions and never writes Tasks, so the section
    would only ever be empty. (Every app's admin module is loaded by now: the admin app,
    listed before this one, autodiscovers them in its own ready().)"""
    from django.apps import apps
    from django.contrib import admin

    if not apps.is_installed("django_dramatiq") or not apps.is_installed("django.contrib.admin"):
        return
    from django_dramatiq.models import Task

    if admin.site.is_registered(Task):
        admin.site.unregister(Task)


def check_broker_middleware(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """parseq.E001: a DRAMATIQ_BROKER written by hand without Parseq's worker middleware
    would run messages without claiming, heartbeats or the local relay."""
    middleware = settings.DRAMATIQ_BROKER.get("MIDDLEWARE", [])
    missing = [name for name in conf.WORKER_MIDDLEWARE if name not in middleware]
    if "LocalBroker" in settings.DRAMATIQ_BROKER.get("BROKER", "") and (
        conf.LOCAL_RELAY not in middleware
    ):
        missing.append(conf.LOCAL_RELAY)
    if not missing:
        return []
    return [
        checks.Error(
            f"DRAMATIQ_BROKER lacks Parseq's worker middleware: {', '.join(missing)}",
            hint="Set DRAMATIQ_BROKER = scripts_app.conf.dramatiq_broker() (it reads "
            "PARSEQ_BROKER_URL), or add the names in scripts_app.conf.WORKER_MIDDLEWARE.",
            id="parseq.E001",
        )
    ]
