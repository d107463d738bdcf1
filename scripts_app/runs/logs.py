"""Run logs: live chunks in the database while running, one storage file after."""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import default_storage

from scripts_app.models import Execution, LogChunk


class ChunkPublisher:
    """Copies the new bytes of a growing local log file into LogChunk rows."""

    def __init__(self, execution_id: int, path: Path):
        self.execution_id = execution_id
        self.path = path
        self.offset = 0

    def publish(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size <= self.offset:
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        LogChunk.objects.create(execution_id=self.execution_id, offset=self.offset, data=data)
        self.offset += len(data)


def log_storage_name(execution_id: int) -> str:
    return f"executions/{execution_id}/log.txt"


def read_log(execution: Execution, offset: int = 0, limit: int = 1024 * 1024) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of the log from ``offset``, and the offset to ask for next."""
    offset = max(offset, 0)
    if execution.log:
        with default_storage.open(execution.log.name, "rb") as handle:
            handle.seek(offset)
            data = handle.read(limit)
        return data, offset + len(data)
    parts: list[bytes] = []
    size = 0
    chunks = LogChunk.objects.filter(execution=execution).order_by("offset")
    for chunk in chunks.iterator():
        data = bytes(chunk.data)
        end = chunk.offset + len(data)
        if end <= offset:
            continue
        piece = data[max(offset - chunk.offset, 0) :]
        parts.append(piece[: limit - size])
        size += len(parts[-1])
        if size >= limit:
            break
    return b"".join(parts), offset + size
