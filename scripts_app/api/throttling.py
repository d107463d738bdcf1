"""The rate limit of triggers (the API's run actions and /scripts/<slug>/).

A ScopedRateThrottle whose "trigger" rate comes from REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES when the project sets one there, else from
PARSEQ_TRIGGER_THROTTLE: a host project that installs the app needs no DRF setting.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle


class TriggerThrottle(ScopedRateThrottle):
    scope_attr = "throttle_scope"

    def get_rate(self) -> str | None:
        rates = getattr(self, "THROTTLE_RATES", {}) or {}
        if self.scope in rates:
            return rates[self.scope]
        return settings.PARSEQ_TRIGGER_THROTTLE
