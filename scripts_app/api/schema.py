"""drf-spectacular hooks: the OpenAPI document describes the REST API v1 only."""

from __future__ import annotations

API_PREFIX = "/api/v1/"


def only_api_v1(endpoints, **kwargs):
    """Drop endpoints outside /api/v1/ (the /scripts/ trigger and the admin)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]
