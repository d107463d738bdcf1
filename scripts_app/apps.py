from django.apps import AppConfig


class ScriptsAppConfig(AppConfig):
    name = "scripts_app"
    verbose_name = "Scripts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from scripts_app import cli, hardening

        cli.install_slug_commands()
        if getattr(settings, "PARSEQ_HIDE_PROCESS_ENV", True):
            # Scripts run as the same OS user must not read our /proc/<pid>/environ.
            hardening.hide_process_environment()
