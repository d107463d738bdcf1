from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("scripts/", include("scripts_app.urls")),
    path("api/v1/", include("scripts_app.api.urls")),
]

# Unknown URLs under /api/ answer JSON like the rest of the API; elsewhere Django's page.
handler404 = "scripts_app.api.errors.not_found"
