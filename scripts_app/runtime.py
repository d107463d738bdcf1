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
    return json.loads(Path(path).read_text(encoding="utf-8"))


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
