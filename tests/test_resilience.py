"""Worker writes ride out a database outage; outputs ride out a storage outage."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from datetime import timedelta

import pytest
from django.db import IntegrityError, OperationalError
from django.utils import timezone

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch, state
from scripts_app.worker import spool
from scripts_app.worker.resilience import heartbeat_while, retry_db
from scripts_app.worker.runner.workspace import workspace


def flaky(failures: int, exc: Exception):
    calls = {"n": 0}

    def call():
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc
        return "written"

    return call, calls


def test_it_retries_a_write_until_the_database_answers():
    call, calls = flaky(3, OperationalError("server closed the connection unexpectedly"))
    naps = []

    assert retry_db(call, what="finish", budget=60, sleep=naps.append) == "written"
    assert calls["n"] == 4
    assert naps == [0.1, 0.2, 0.4]  # exponential backoff


def test_it_gives_up_loudly_when_the_outage_outlasts_the_budget():
    call, calls = flaky(100, OperationalError("could not connect to server"))

    with pytest.raises(OperationalError):
        retry_db(call, what="finish", budget=0.5, sleep=lambda s: None)
    assert calls["n"] < 100


def test_it_does_not_retry_errors_that_are_not_about_the_connection():
    call, calls = flaky(1, IntegrityError("duplicate key"))

    with pytest.raises(IntegrityError):
        retry_db(call, what="finish", budget=60, sleep=lambda s: None)
    assert calls["n"] == 1


def test_spooled_outputs_are_stored_later_and_the_note_is_removed(make_job, settings, tmp_path):
    settings.PARSEQ_SPOOL_DIR = tmp_path / "spool"
    job = make_job(slug="spooled")
    execution = dispatch.trigger(job, trigger=Trigger.API, send=False)
    state.claim(execution.pk, "test:1")
    with workspace(tmp_path, prefix="ws-") as ws:
        ws.log_file.write_bytes(b"hello log\n")
        (ws.outputs / "sub").mkdir()
        (ws.outputs / "sub" / "report.csv").write_text("a,b\n1,2\n")
        kept = spool.keep(execution.pk, ws)
    note = spool.note(OSError("S3 endpoint unreachable"), kept)
    state.finish(execution.pk, Status.SUCCEEDED, error=note)
    execution.refresh_from_db()
    assert execution.error.startswith(spool.PENDING_NOTE) and str(kept) in execution.error
    assert not execution.artifacts.exists()

    assert spool.store_spooled() == [execution.pk]

    execution.refresh_from_db()
    assert execution.error == ""
    assert execution.log.read() == b"hello log\n"
    artifact = execution.artifacts.get()
    assert (artifact.name, artifact.file.read()) == ("sub/report.csv", b"a,b\n1,2\n")
    assert not kept.exists()


def test_spooled_outputs_stay_when_storage_is_still_down(make_job, settings, tmp_path, monkeypatch):
    settings.PARSEQ_SPOOL_DIR = tmp_path / "spool"
    job = make_job(slug="still-down")
    execution = dispatch.trigger(job, trigger=Trigger.API, send=False)
    with workspace(tmp_path, prefix="ws-") as ws:
        (ws.outputs / "out.txt").write_text("precious")
        kept = spool.keep(execution.pk, ws)

    def unreachable(*args, **kwargs):
        raise OSError("storage unreachable")

    monkeypatch.setattr(spool.outputs, "store_outputs", unreachable)

    assert spool.store_spooled() == []
    assert (kept / "outputs" / "out.txt").read_text() == "precious"


def test_one_thread_keeps_the_heartbeats_of_all_runs_in_slow_steps(make_job, transactional_db):
    job = make_job()
    runs = [dispatch.trigger(job, trigger=Trigger.API, send=False) for _ in range(3)]
    long_ago = timezone.now() - timedelta(hours=1)
    Execution.objects.filter(pk__in=[r.pk for r in runs]).update(
        status=Status.RUNNING, heartbeat_at=long_ago
    )
    threads_before = threading.active_count()
    with ExitStack() as stack:
        for run in runs:
            stack.enter_context(heartbeat_while(run.pk, every=0.1))
        deadline = time.monotonic() + 5
        while Execution.objects.filter(heartbeat_at=long_ago).exists():
            assert time.monotonic() < deadline, "the heartbeats were not kept"
            time.sleep(0.05)
        assert threading.active_count() <= threads_before + 1
