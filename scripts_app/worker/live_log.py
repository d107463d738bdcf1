"""The live log of a running execution: its new bytes copied into LogChunk rows every
heartbeat, so any web process can tail it (``runs.logs`` reads them back)."""

from __future__ import annotations

from pathlib import Path

from scripts_app.jobs.masking import Masker
from scripts_app.models import LogChunk


class ChunkPublisher:
    """Copies the new bytes of a growing local log file into LogChunk rows.

    With a ``masker`` the secrets are masked, even split across two reads. Offsets
    are positions in the published (masked) log, so a reader's offset stays valid when
    the stored, masked log replaces the chunks at the end of the run.
    """

    def __init__(self, execution_id: int, path: Path, masker: Masker | None = None):
        self.execution_id = execution_id
        self.path = path
        self.stream = masker.stream() if masker else None
        self.read = 0  # bytes read from the file
        self.offset = 0  # bytes published

    def publish(self) -> None:
        data = self._new_bytes()
        if data and self.stream is not None:
            data = self.stream.feed(data)
        if data:
            LogChunk.objects.create(execution_id=self.execution_id, offset=self.offset, data=data)
            self.offset += len(data)

    def _new_bytes(self) -> bytes:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return b""
        if size <= self.read:
            return b""
        with self.path.open("rb") as handle:
            handle.seek(self.read)
            data = handle.read(size - self.read)
        self.read += len(data)
        return data
