from django.urls import path

from scripts_app import views

app_name = "scripts_app"

urlpatterns = [
    path("<slug:slug>/", views.JobTriggerView.as_view(), name="job"),
]
