"""The temporary directory a run lives in, and the clean environment it gets."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import scripts_app

# The directory that holds the ``scripts_app`` package: scripts import
# ``scripts_app.runtime`` from here, and nothing else of the server is on their path.
RUNTIME_ROOT = Path(scripts_app.__file__).resolve().parent.parent
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Workspace:
    # Paths are built once per workspace: a run asks for them many times.
    root: Path
    # Set when no process of its run can be left to write here (see WorkspacePool).
    reusable: bool = False
    # The script user's (uid, gid) when a root worker runs scripts as another user: it
    # owns the root and the folders (the worker, root, still reads and removes them).
    owner: tuple[int, int] | None = None

    @cached_property
    def script(self) -> Path:
        return self.root / "script.py"

    @cached_property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @cached_property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @cached_property
    def home(self) -> Path:
        return self.root / "home"

    @cached_property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @cached_property
    def results(self) -> Path:
        return self.root / "results"  # files.result_dir: keys for the file storage API

    @cached_property
    def control(self) -> Path:
        return self.root / ".parseq"

    @cached_property
    def folders(self) -> tuple[Path, ...]:
        return (self.outputs, self.inputs, self.home, self.tmp, self.results, self.control)

    @cached_property
    def params_file(self) -> Path:
        return self.control / "params.json"

    @cached_property
    def result_file(self) -> Path:
        return self.control / "result.json"

    @cached_property
    def error_file(self) -> Path:
        return self.control / "error.json"

    @cached_property
    def log_file(self) -> Path:
        return self.control / "log.txt"

    def read_json(self, path: Path) -> object | None:
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def output_files(self) -> Iterator[tuple[str, Path]]:
        """(relative name, path) of every regular file the script left in outputs/."""
        for path in sorted(self.outputs.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(self.outputs).as_posix(), path

    @cached_property
    def own_names(self) -> frozenset[str]:
        """What Parseq puts in the root, the script's working directory."""
        return frozenset({self.script.name, *(folder.name for folder in self.folders)})

    def working_dir_entries(self) -> list[Path]:
        """What the script left in its working directory (files and folders, no symlinks):
        collected like outputs/ (seed 004's ``open("output.txt", "w")``)."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        extra = sorted(set(names) - self.own_names)
        return [self.root / name for name in extra if not (self.root / name).is_symlink()]

    def collect_working_dir(self) -> dict[str, str]:
        """Move those entries into outputs/ once the script has ended, so they are stored,
        limited, spooled and mailed like outputs; {entry name: its name in outputs/} (a
        name outputs/ already has gets a "-2", "-3"… before its extension)."""
        moved = {}
        for entry in self.working_dir_entries():
            target = _free_name(self.outputs, entry.name)
            os.rename(entry, self.outputs / target)
            moved[entry.name] = target
        return moved


def _free_name(folder: Path, name: str) -> str:
    if not os.path.lexists(folder / name):
        return name
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    n = 2
    while os.path.lexists(folder / f"{stem}-{n}{dot}{suffix}"):
        n += 1
    return f"{stem}-{n}{dot}{suffix}"


@contextmanager
def workspace(base: Path, prefix: str) -> Iterator[Workspace]:
    base.mkdir(parents=True, exist_ok=True)
    ws = _create(base, prefix)
    try:
        yield ws
    finally:
        shutil.rmtree(ws.root, ignore_errors=True)


def _create(base: Path, prefix: str, owner: tuple[int, int] | None = None) -> Workspace:
    ws = Workspace(Path(tempfile.mkdtemp(prefix=prefix, dir=base)), owner=owner)
    for folder in ws.folders:
        folder.mkdir(mode=FOLDER_MODE)
    if owner is not None:
        for path in (ws.root, *ws.folders):
            os.chown(path, *owner)
    return ws


class WorkspacePool:
    """Empty workspaces kept for this process's next runs.

    Creating and deleting a workspace's folders costs about 2 ms of CPU per run on
    ext4 (each directory goes through the journal): as much as the rest of the
    worker's part of a no-op run. A workspace is kept for the next run only if
    no process of its run can still write to it — the caller says so by setting
    ``reusable``, which the fork server proves (runner/forkserver.py: nothing of the run
    is left among its adopted orphans); a process that escaped the run's group would
    otherwise write into the next run's files — and if the run left it exactly as
    it was handed out: the files Parseq writes removed, every folder empty, a real
    directory of this user with its original mode, nothing else in the root.
    Anything else is deleted as before.
    """

    def __init__(self, size: int = 32):
        self.size = size
        self.lock = threading.Lock()
        self.idle: dict[Path, list[Workspace]] = {}

    @contextmanager
    def workspace(self, base: Path, owner: tuple[int, int] | None = None) -> Iterator[Workspace]:
        with self.lock:
            idle = self.idle.get((base, owner))
            ws = idle.pop() if idle else None
        if ws is None or not ws.root.is_dir():  # removed meanwhile: start afresh
            base.mkdir(parents=True, exist_ok=True)
            ws = _create(base, "run-", owner)
        try:
            yield ws
        finally:
            self._give_back((base, owner), ws)

    def _give_back(self, base: tuple, ws: Workspace) -> None:
        reusable, ws.reusable = ws.reusable, False
        if reusable and _emptied(ws):
            with self.lock:
                idle = self.idle.setdefault(base, [])
                if len(idle) < self.size:
                    idle.append(ws)
                    return
        shutil.rmtree(ws.root, ignore_errors=True)

    def clear(self) -> None:
        with self.lock:
            idle = [ws for kept in self.idle.values() for ws in kept]
            self.idle.clear()
        for ws in idle:
            shutil.rmtree(ws.root, ignore_errors=True)


FOLDER_MODE = 0o700  # the root's, from mkdtemp: a run's files are its user's alone
CONTROL_FILES = ("params.json", "result.json", "error.json", "log.txt")


def _emptied(ws: Workspace) -> bool:
    """Remove the files Parseq wrote; True if the workspace is then as it was created."""
    uid = ws.owner[0] if ws.owner else os.geteuid()
    try:
        if not (_pristine(ws.root, uid) and _pristine(ws.control, uid)):
            return False
        _unlink(ws.script)
        for name in CONTROL_FILES:
            _unlink(ws.control / name)
        if set(os.listdir(ws.root)) != {folder.name for folder in ws.folders}:
            return False
        return all(_pristine(folder, uid) and not os.listdir(folder) for folder in ws.folders)
    except OSError:
        return False


def _pristine(path: Path, uid: int) -> bool:
    """A real directory (not a symlink) of its owner, with the mode it was created with."""
    info = os.lstat(path)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == uid
        and stat.S_IMODE(info.st_mode) == FOLDER_MODE
    )


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def clean_env(ws: Workspace, run_vars: dict[str, str]) -> dict[str, str]:
    """PATH, locale, a private HOME and TMPDIR, and the run's own variables: nothing else
    of the server's environment (no SECRET_KEY, database or storage settings)."""
    env = {
        "PATH": os.environ.get("PATH", DEFAULT_PATH),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(ws.home),
        "TMPDIR": str(ws.tmp),
        "PYTHONPATH": str(RUNTIME_ROOT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PARSEQ_OUTPUT_DIR": str(ws.outputs),
        "PARSEQ_INPUT_DIR": str(ws.inputs),
        "PARSEQ_PARAMS_FILE": str(ws.params_file),
        "PARSEQ_RESULT_FILE": str(ws.result_file),
        "PARSEQ_ERROR_FILE": str(ws.error_file),
    }
    env.update(run_vars)
    return env
