"""Parseq's reusable Django app. Keep this file free of Django imports:
scripts import ``scripts_app.runtime`` in a bare interpreter."""
