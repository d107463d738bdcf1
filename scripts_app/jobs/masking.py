"""Replacing secret values with ``***`` in everything a run leaves behind.

Logs arrive as a byte stream in arbitrary chunks, so a secret can be split
across two reads: ``StreamMasker`` holds back just enough bytes (the longest
secret minus one) to see every occurrence whole before letting bytes out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MASK = "***"
MASK_BYTES = MASK.encode()
COPY_CHUNK = 64 * 1024


class Masker:
    """Masks a fixed set of secret values in text, bytes and JSON values."""

    def __init__(self, values: Iterable[str]):
        # Longest first, so a secret that contains another is masked whole.
        secrets = sorted({v for v in values if v}, key=len, reverse=True)
        self.values = secrets
        self._text = re.compile("|".join(map(re.escape, secrets))) if secrets else None
        encoded = [v.encode() for v in secrets]
        self._bytes = re.compile(b"|".join(map(re.escape, encoded))) if secrets else None
        self.longest = max((len(v) for v in encoded), default=0)

    def __bool__(self) -> bool:
        return bool(self.values)

    def text(self, value: str) -> str:
        return self._text.sub(MASK, value) if self._text and value else value

    def bytes(self, value: bytes) -> bytes:
        return self._bytes.sub(MASK_BYTES, value) if self._bytes and value else value

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with every string (keys too) masked."""
        if not self:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        return value

    def stream(self) -> StreamMasker:
        return StreamMasker(self)


class StreamMasker:
    """Masks a byte stream fed in pieces; ``flush()`` releases the held-back tail."""

    def __init__(self, masker: Masker):
        self.masker = masker
        self.hold = max(masker.longest - 1, 0)
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        pattern = self.masker._bytes
        if pattern is None:
            return data
        buf = self.pending + data
        # A secret that is not yet whole must start inside the last ``hold`` bytes.
        cut = max(len(buf) - self.hold, 0)
        out = bytearray()
        pos = 0
        for match in pattern.finditer(buf):
            if match.start() >= cut:
                break
            out += buf[pos : match.start()]
            out += MASK_BYTES
            pos = match.end()
        cut = max(cut, pos)
        out += buf[pos:cut]
        self.pending = buf[cut:]
        return bytes(out)

    def flush(self) -> bytes:
        tail, self.pending = self.pending, b""
        return self.masker.bytes(tail)


def masked_echo(
    echo: Callable[[bytes], None] | None, masker: Masker
) -> tuple[Callable[[bytes], None] | None, Callable[[], None]]:
    """An echo callback that masks, and the function that flushes its tail at the end."""
    if echo is None or not masker:
        return echo, lambda: None
    stream = masker.stream()

    def write(data: bytes) -> None:
        masked = stream.feed(data)
        if masked:
            echo(masked)

    def flush() -> None:
        tail = stream.flush()
        if tail:
            echo(tail)

    return write, flush


def mask_file(path: Path, masker: Masker) -> None:
    """Rewrite ``path`` with its secrets masked, in constant memory."""
    if not masker or not path.exists():
        return
    stream = masker.stream()
    masked = path.with_name(path.name + ".masked")
    with path.open("rb") as src, masked.open("wb") as dst:
        while data := src.read(COPY_CHUNK):
            dst.write(stream.feed(data))
        dst.write(stream.flush())
    masked.replace(path)
