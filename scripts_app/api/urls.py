from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from scripts_app.api import views
from scripts_app.api.permissions import DocsPermission

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.register("jobs", views.JobViewSet, basename="job")
router.register("executions", views.ExecutionViewSet, basename="execution")

docs = {"permission_classes": [DocsPermission]}
files_list = views.FileViewSet.as_view({"post": "create"})
file_detail = views.FileViewSet.as_view({"get": "retrieve", "delete": "destroy"})
file_info = views.FileViewSet.as_view({"get": "info"})
artifact = views.ExecutionViewSet.as_view({"get": "artifact"})

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(**docs), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **docs), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", **docs), name="redoc"),
    path("files/", files_list, name="files"),
    path("files/<path:key>/info", file_info, name="file-info"),
    path("files/<path:key>", file_detail, name="file"),
    path("executions/<int:pk>/artifacts/<path:name>", artifact, name="execution-artifact"),
    *router.urls,
]
