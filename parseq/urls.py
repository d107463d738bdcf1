from django.contrib import admin
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

# The standalone project's admin is Parseq's console.
admin.site.site_header = "Parseq"
admin.site.site_title = "Parseq"
admin.site.index_title = "Jobs, runs and users"

api_docs = RedirectView.as_view(url=reverse_lazy("api:docs"), permanent=False)
api_redoc = RedirectView.as_view(url=reverse_lazy("api:redoc"), permanent=False)

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("scripts_app.urls")),  # scripts/<slug>/ and api/v1/
    # Seed 003 served its docs at /docs and /redoc.
    path("docs", api_docs),
    path("docs/", api_docs),
    path("redoc", api_redoc),
    path("redoc/", api_redoc),
]

# Unknown URLs under /api/ answer JSON like the rest of the API; elsewhere Django's page.
handler404 = "scripts_app.api.errors.not_found"
