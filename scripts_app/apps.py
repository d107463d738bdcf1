from django.apps import AppConfig


class ScriptsAppConfig(AppConfig):
    name = "scripts_app"
    verbose_name = "Scripts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from scripts_app import cli

        cli.install_slug_commands()
