"""Run logs: live chunks in the database while running, one storage file after, and
the one page reader behind both log tails."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.storage import default_storage

from scripts_app.models import Execution, LogChunk


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


# --- pages: what both log tails (the API's and the admin's) read --------------------

UTF8_MAX = 4  # bytes of the longest UTF-8 character


@dataclass(frozen=True)
class LogPage:
    data: bytes
    text: str  # the same, decoded
    next_offset: int
    final: bool  # the run had ended before the read, so its whole log was stored
    full: bool  # cut by the page limit: more follows at once

    @property
    def complete(self) -> bool:
        """Nothing more will ever come from here on."""
        return self.final and not self.data


def read_page(execution: Execution, offset: int, limit: int) -> LogPage:
    """Up to ``limit`` bytes of the log from ``offset``, never ending inside a character.

    The one UTF-8 rule: a character cut by the page limit is completed from the bytes
    after it; one cut by the end of a running run's log so far is held back until its
    other bytes arrive. (A final log ending in a broken character is served as it is.)
    """
    final = execution.is_final  # read first: the final status and the stored log land together
    raw, _ = read_log(execution, offset, limit + UTF8_MAX - 1)
    data = raw[:limit]
    have, need = _last_character(data)
    text, used = complete_utf8(raw[: len(data) + max(need - have, 0)], final)
    next_offset = max(offset, 0) + used
    return LogPage(raw[:used], text, next_offset, final, full=len(raw) > limit)


def complete_utf8(data: bytes, final: bool) -> tuple[str, int]:
    """``data`` decoded, holding back a character cut at its end (unless ``final``);
    the text and how many bytes it used, so the next read starts right after."""
    used = len(data) if final else len(data) - _cut_tail(data)
    return data[:used].decode("utf-8", errors="replace"), used


def _last_character(data: bytes) -> tuple[int, int]:
    """How many bytes of the last character ``data`` holds, and how many it needs."""
    for back in range(1, min(UTF8_MAX, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # not a continuation byte: the character starts here
            need = 1 if byte < 0xC0 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back, need
    return 0, 0  # no start byte in reach: not UTF-8 text; nothing to wait for


def _cut_tail(data: bytes) -> int:
    """The bytes of a character cut at the end of ``data`` (0 when it ends whole)."""
    have, need = _last_character(data)
    return have if have < need else 0
