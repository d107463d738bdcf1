"""Seed 003's second example (Scripts Manager): a file in by key, a file out by key.

Upload a file (``POST /api/v1/files/upload?prefix=test`` → ``{"key": …}``), pass its key as
``data.file_key``; the worker fetches it before the script starts (scripts get no storage
credentials) and ``runtime.input_file`` gives its local copy. The script writes its answer
to ``runtime.result_file``, which the worker stores under ``runtime.result_key`` — the key
returned here, to download with ``GET /api/v1/files/<key>``.
"""

from scripts_app import runtime


def main(data: dict) -> dict:
    file_key: str | None = data.get("file_key")

    if not file_key:
        return {"error": "file_key is required"}

    text = runtime.input_file(file_key).read_text(encoding="utf-8")
    lines = text.splitlines()
    runtime.result_file("result.txt").write_text(
        f"{len(lines)} lines, {len(text.split())} words\n", encoding="utf-8"
    )
    return {
        "message": f"Processing file: {file_key}",
        "status": "success",
        "file_key": runtime.result_key("result.txt"),
    }
