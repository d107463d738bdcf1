"""REST API v1 viewsets: thin wrappers over the services."""

from __future__ import annotations

from rest_framework import viewsets

from scripts_app.api.serializers import ExecutionSerializer
from scripts_app.models import Execution


class ExecutionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ExecutionSerializer
    queryset = Execution.objects.select_related("job", "triggered_by").prefetch_related("artifacts")
