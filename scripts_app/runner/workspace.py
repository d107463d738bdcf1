"""The temporary directory a run lives in, and the clean environment it gets."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import scripts_app

# The directory that holds the ``scripts_app`` package: scripts import
# ``scripts_app.runtime`` from here, and nothing else of the server is on their path.
RUNTIME_ROOT = Path(scripts_app.__file__).resolve().parent.parent
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class Workspace:
    root: Path

    @property
    def script(self) -> Path:
        return self.root / "script.py"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def control(self) -> Path:
        return self.root / ".parseq"

    @property
    def params_file(self) -> Path:
        return self.control / "params.json"

    @property
    def result_file(self) -> Path:
        return self.control / "result.json"

    @property
    def error_file(self) -> Path:
        return self.control / "error.json"

    @property
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


@contextmanager
def workspace(base: Path, prefix: str) -> Iterator[Workspace]:
    base.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    ws = Workspace(root)
    for folder in (ws.outputs, ws.inputs, ws.home, ws.tmp, ws.control):
        folder.mkdir()
    try:
        yield ws
    finally:
        shutil.rmtree(root, ignore_errors=True)


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
