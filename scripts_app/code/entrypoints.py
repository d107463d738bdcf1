"""Code by its entrypoint, "package.module:qualname" (a Job's ``entrypoint``)."""

from __future__ import annotations

import importlib
from typing import Any


class EntrypointError(Exception):
    """The entrypoint cannot be called: the run fails with this message."""


def resolve(entrypoint: str) -> Any:
    """The object ``"package.module:qualname"`` names."""
    module_name, _, qualname = entrypoint.partition(":")
    if not module_name or not qualname:
        raise EntrypointError(f"entrypoint {entrypoint!r} is not 'package.module:qualname'")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            message = f"{module_name} has no {qualname!r} (entrypoint {entrypoint})"
            raise EntrypointError(message) from None
    return target
