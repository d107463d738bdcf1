"""Seed 004's result with a file: ``main()`` returns ``{"result": X, "file_path": P}``.

The run's e-mail then says ``str(X)`` and attaches the file at ``P`` (absolute, or
relative to the script's working directory). ``P`` must be a regular file inside the
run's workspace, reached through no symbolic link, and not one of Parseq's own files; it
becomes an artifact like everything in ``outputs/`` and the working directory, and its
artifact name is kept on the run (``Execution.mail_attachment``). The stored result stays
what the script returned.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path, PurePosixPath

from scripts_app.worker.runner.confine import WORKSPACE
from scripts_app.worker.runner.workspace import Workspace

logger = logging.getLogger(__name__)

RESULT_KEY, FILE_KEY = "result", "file_path"


def named_file(result: object) -> str | None:
    """``P`` when ``result`` has seed 004's shape, else None."""
    if isinstance(result, dict) and RESULT_KEY in result and isinstance(result.get(FILE_KEY), str):
        return result[FILE_KEY]
    return None


def collect(ws: Workspace, result: object) -> str:
    """Collect the working directory into outputs/; the artifact name of the file the
    result names ('' when it names none, or one that cannot be attached)."""
    where = named_file(result)
    inside = _inside(ws, where) if where else None
    if inside is not None and inside.parts[0] not in (ws.outputs.name, *_workdir(ws)):
        inside = _copy_to_outputs(ws, inside)
    moved = ws.collect_working_dir()
    if inside is None:
        if where:
            logger.warning("file_path %r is not a file of the run's workspace: not attached", where)
        return ""
    top, rest = inside.parts[0], inside.parts[1:]
    if top == ws.outputs.name:
        return PurePosixPath(*rest).as_posix()
    if top not in moved:  # gone before it could be collected
        return ""
    return PurePosixPath(moved[top], *rest).as_posix()


def _workdir(ws: Workspace) -> list[str]:
    return [entry.name for entry in ws.working_dir_entries()]


def _inside(ws: Workspace, where: str) -> Path | None:
    """``where`` relative to the workspace root, if it is a regular file in it that no
    symbolic link leads to and that is not Parseq's (the script, control files)."""
    root = ws.root.resolve()
    if where == WORKSPACE or where.startswith(WORKSPACE + "/"):  # as a sandboxed script saw it
        where = where[len(WORKSPACE) :].lstrip("/") or "."
    path = Path(os.path.normpath(root / where))  # an absolute ``where`` replaces the root
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    if not relative.parts or relative.parts[0] in (ws.script.name, ws.control.name):
        return None
    if path.resolve() != path or not path.is_file():  # a symlink on the way, or no file
        return None
    return relative


def _copy_to_outputs(ws: Workspace, relative: Path) -> Path | None:
    """A file in inputs/, results/, home/ or tmp/: a copy in outputs/ is the artifact."""
    target = ws.outputs / relative.name
    if target.exists():
        target = ws.outputs / f"{relative.parts[0]}-{relative.name}"
    try:
        shutil.copyfile(ws.root / relative, target, follow_symlinks=False)
    except OSError as exc:
        logger.warning("file_path %s could not be collected: %s", relative, exc)
        return None
    return Path(ws.outputs.name, target.name)
