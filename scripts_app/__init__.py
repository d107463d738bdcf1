"""Parseq's reusable Django app. Keep this file free of Django imports:
scripts import ``scripts_app.runtime`` in a bare interpreter.

``from scripts_app import job, BaseJob`` (code jobs) is resolved on first use, by the
module ``__getattr__`` below, so importing ``scripts_app`` loads neither Django nor models.
"""

from typing import Any

_LAZY = {"job": "scripts_app.code.registry", "BaseJob": "scripts_app.code.registry"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scripts_app' has no attribute {name!r}")
