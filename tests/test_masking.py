"""Secret values become *** in text, JSON and byte streams cut at any point."""

import pytest

from scripts_app.jobs.masking import Masker, mask_file
from scripts_app.models import Execution, LogChunk, Trigger
from scripts_app.worker.live_log import ChunkPublisher

SECRET = "hunter2-s3cr3t"


def test_an_empty_masker_changes_nothing():
    masker = Masker(["", ""])
    assert not masker
    assert masker.text("hunter2") == "hunter2"
    assert masker.stream().feed(b"abc") == b"abc"


def test_it_masks_text_and_every_string_in_json():
    masker = Masker([SECRET, "short"])
    assert masker.text(f"token={SECRET}; short") == "token=***; ***"
    result = {"a": [f"x{SECRET}y", 3, None], SECRET: {"b": "short"}}
    assert masker.json(result) == {"a": ["x***y", 3, None], "***": {"b": "***"}}


def test_a_secret_containing_another_is_masked_whole():
    assert Masker(["abc", "abcdef"]).text("abcdef abc") == "*** ***"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_a_stream_cut_anywhere_is_masked_like_the_whole(size):
    masker = Masker([SECRET, "pw"])
    data = f"start {SECRET} mid pw{SECRET}pw end {SECRET[:5]}".encode() * 3
    stream = masker.stream()
    out = b"".join(stream.feed(data[i : i + size]) for i in range(0, len(data), size))
    out += stream.flush()
    assert out == masker.bytes(data)
    assert SECRET.encode() not in out


def test_mask_file_rewrites_a_file(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"x" * 100_000 + SECRET.encode() + b"y" * 10)
    mask_file(path, Masker([SECRET]))
    assert path.read_bytes() == b"x" * 100_000 + b"***" + b"y" * 10


def test_the_live_log_never_shows_a_secret_split_across_chunks(make_job, tmp_path):
    job = make_job()
    run = Execution.objects.create(job=job, trigger=Trigger.API)
    log = tmp_path / "log.txt"
    publisher = ChunkPublisher(run.pk, log, Masker([SECRET]))
    with log.open("wb") as handle:
        for piece in [b"line one ", SECRET[:6].encode(), SECRET[6:].encode() + b" tail", b"!"]:
            handle.write(piece)
            handle.flush()
            publisher.publish()
    chunks = list(LogChunk.objects.filter(execution=run).order_by("offset"))
    live = b"".join(bytes(c.data) for c in chunks)
    assert SECRET[:6].encode() not in live
    assert live == b"line one *** tail!"[: len(live)]
    offsets = [c.offset for c in chunks]
    assert offsets == sorted(offsets)
    assert all(b.offset == a.offset + len(a.data) for a, b in zip(chunks, chunks[1:], strict=False))
