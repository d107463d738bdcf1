"""Everything Parseq serves, for ``path("", include("scripts_app.urls"))`` in any project:
``scripts/<slug>/`` (triggers, namespace ``scripts_app``) and ``api/v1/`` (the REST API
with its schema and docs, namespace ``api``). The admin comes with the project's own
``admin.site.urls``."""

from django.urls import include, path

urlpatterns = [
    path("scripts/", include("scripts_app.urls.triggers")),
    path("api/v1/", include("scripts_app.api.urls")),
]
