from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from scripts_app import conf
from scripts_app.api.executions import ExecutionViewSet
from scripts_app.api.files import FileViewSet, SeedUploadViewSet
from scripts_app.api.jobs import JobViewSet
from scripts_app.api.permissions import DocsPermission
from scripts_app.api.scripts import ScriptPathView

app_name = "api"


class AnyPathConverter:
    """Like ``path`` but also matching control characters, so a bad key gets a clear 400
    from the key check instead of a 404 from the URL resolver."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyPathConverter, "anypath")

router = DefaultRouter(trailing_slash=True)
router.register("jobs", JobViewSet, basename="job")
router.register("executions", ExecutionViewSet, basename="execution")

docs = {"permission_classes": [DocsPermission]}
files_list = FileViewSet.as_view({"post": "create"})
seed_upload = SeedUploadViewSet.as_view({"post": "create"})
file_detail = FileViewSet.as_view({"get": "retrieve", "delete": "destroy"})
file_info = FileViewSet.as_view({"get": "info"})
artifact = ExecutionViewSet.as_view({"get": "artifact"})

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(custom_settings=conf.API_SCHEMA, **docs),
        name="schema",
    ),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **docs), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", **docs), name="redoc"),
    path("files/", files_list, name="files"),
    path("files/upload", seed_upload, name="files-upload"),  # seed 003's name, before <key>
    path("scripts/<anypath:script_path>", ScriptPathView.as_view(), name="script-run"),
    path("files/<anypath:key>/info", file_info, name="file-info"),
    path("files/<anypath:key>", file_detail, name="file"),
    path("executions/<str:pk>/artifacts/<anypath:name>", artifact, name="execution-artifact"),
    *router.urls,
]
