"""Operating Parseq: structured logs, Prometheus metrics, health probes and heartbeats.

``logs`` is imported by the settings (and gunicorn's config), so it imports no Django.
"""
