from django.apps import AppConfig


class CodeJobsAppConfig(AppConfig):
    name = "tests.codejobs_app"
    label = "codejobs_app"
    default_auto_field = "django.db.models.BigAutoField"
