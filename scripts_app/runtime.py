"""The run-context API for scripts. Importable in a bare interpreter (no Django).

    from scripts_app import runtime

    def main(data: dict) -> dict:
        runtime.write_output(f"hello {data['name']}")          # appends to output.txt
        (runtime.output_dir() / "report.csv").write_text("a,b\n1,2\n")  # an artifact
        return {"greeting": f"Hello, {data['name']}!"}

Every file left in ``output_dir()`` becomes a downloadable artifact of the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

OUTPUT_TXT = "output.txt"


def _required(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise RuntimeError(f"{name} is not set: is this script running under Parseq?")
    return value


def run_id() -> int | None:
    """The execution id of this run (None when run outside Parseq)."""
    value = os.environ.get("PARSEQ_RUN_ID")
    return int(value) if value else None


def job_slug() -> str | None:
    return os.environ.get("PARSEQ_JOB")


def params() -> dict[str, Any]:
    """The run's parameters (the job's defaults overlaid with the request's)."""
    path = os.environ.get("PARSEQ_PARAMS_FILE")
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:  # not pathlib: cheaper in a forked script
        return json.load(handle)


def output_dir() -> Path:
    """Directory whose files all become artifacts of the run."""
    path = Path(os.environ.get("PARSEQ_OUTPUT_DIR", "outputs"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_path(name: str) -> Path:
    """Path for an artifact called ``name`` (sub-directories allowed)."""
    path = output_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_output(text: str) -> None:
    """Append a line to the run's standard result file, ``output.txt``."""
    with output_path(OUTPUT_TXT).open("a", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


def input_dir() -> Path:
    """Directory holding files the worker fetched for this run (see ``input_file``)."""
    return Path(os.environ.get("PARSEQ_INPUT_DIR", "inputs"))


# --- Files of the file storage API (/api/v1/files/) -------------------------------------
# A run lists the keys it needs in its params: {"input_files": ["uploads/3f2a….csv"]}, or
# names one as seed 003 does: {"file_key": "test/3f2a….txt"} (input_file(data["file_key"])).
# The worker copies them into input_dir() before the script starts, and stores what the
# script writes to result_file(name) under the key result_key(name) after it ends.
# Scripts never talk to the storage themselves (they have no credentials for it).


def _safe_relative(value: str, what: str) -> str:
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or "\\" in value
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(f"{what} {value!r} must be a relative path without '.' or '..' parts")
    return value


def input_file(key: str) -> Path:
    """The local copy of the uploaded file ``key`` (listed in params["input_files"], or
    given as params["file_key"])."""
    path = input_dir() / _safe_relative(key, "file key")
    if not path.is_file():
        raise FileNotFoundError(
            f"input file {key!r} was not fetched: list it in the run's params under "
            '"input_files", e.g. {"data": {"input_files": ["' + key + '"]}}'
        )
    return path


def result_file(name: str) -> Path:
    """Where to write a file handed back as a file-storage key (see ``result_key``)."""
    base = Path(os.environ.get("PARSEQ_RESULT_FILES_DIR", "results"))
    path = base / _safe_relative(name, "result name")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def result_key(name: str) -> str:
    """The key ``result_file(name)`` gets once the run ends: ``runs/<run id>/<name>``.

    Download it with ``GET /api/v1/files/<key>``; return it in the result so callers find it.
    """
    return f"runs/{run_id() or 0}/{_safe_relative(name, 'result name')}"
