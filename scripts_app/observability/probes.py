"""``/healthz``, ``/readyz`` and ``/metrics``, answered by a middleware placed first.

First, because a probe's Host is the pod's IP (which ALLOWED_HOSTS does not list) and
because probes every few seconds should not fill the request log. A host project adds
``scripts_app.observability.probes.ProbeMiddleware`` at the top of its MIDDLEWARE.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from scripts_app.observability import health

logger = logging.getLogger(__name__)
_last_ready: bool | None = None


def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers (liveness): nothing else is checked."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database, its migrations and the broker are fine, else 503 naming
    what is not."""
    global _last_ready
    checks = health.readiness()
    ready = all(state == "ok" for state in checks.values())
    if ready != _last_ready:  # log changes (with the errors' details), not every probe
        level = logging.INFO if ready else logging.WARNING
        logger.log(level, "readiness: %s", "ready" if ready else "not ready", extra=checks)
        _last_ready = ready
    # The answer may reach the internet (through the ingress): the part and what is wrong
    # with it, not the error's text (host names, addresses) — that is in the log line.
    public = {name: state.split(":", 1)[0] for name, state in checks.items()}
    body = {"status": "ready" if ready else "unavailable", "checks": public}
    return JsonResponse(body, status=200 if ready else 503)


def metrics_access(request: HttpRequest) -> HttpResponse | None:
    """None when this request may read the metrics: the bearer PARSEQ_METRICS_TOKEN, or a
    client address in PARSEQ_METRICS_ALLOW (default: this host only)."""
    token = settings.PARSEQ_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header.removeprefix("Bearer ").strip(), token):
            return None
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        client = None
    if client is not None and any(client in net for net in settings.PARSEQ_METRICS_ALLOW):
        return None
    if token:
        response = JsonResponse({"detail": "a valid bearer token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return JsonResponse({"detail": "metrics are not open to this address"}, status=403)


def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.PARSEQ_METRICS:
        return JsonResponse(
            {"detail": "metrics are off (PARSEQ_METRICS=1 turns them on)"}, status=404
        )
    refused = metrics_access(request)
    if refused is not None:
        return refused
    from prometheus_client import CONTENT_TYPE_LATEST

    from scripts_app.observability.metrics import exposition

    try:
        body = exposition()
    except DatabaseError as exc:  # a failed scrape (up == 0), not made-up zeros
        logger.warning("metrics: the database is unavailable: %s", exc)
        return JsonResponse({"detail": "the database is unavailable"}, status=503)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


ROUTES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ROUTES.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        return view(request)
