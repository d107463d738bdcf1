from django.urls import path

from scripts_app import views

app_name = "scripts_app"

# With and without the trailing slash, for every method: seed 000's crontab line is
# ``curl https://host/scripts/<slug>``, and APPEND_SLASH would turn a POST into a 500
# (DEBUG) or drop its body in a redirect.
urlpatterns = [
    path("<slug:slug>/", views.JobTriggerView.as_view(), name="job"),
    path("<slug:slug>", views.JobTriggerView.as_view(), name="job-bare"),
]
