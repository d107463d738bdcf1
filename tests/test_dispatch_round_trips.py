"""What a trigger costs the database, and that its shortcuts still pin and stamp exactly."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.fields.files import FieldFile
from django.test.utils import CaptureQueriesContext

from scripts_app.models import Execution, Job, ScriptVersion, Trigger
from scripts_app.runs import dispatch
from tests.conftest import script_file

SLOT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def published(monkeypatch):
    """(execution id, its sent_at and whether a transaction was open) at each publish."""
    calls = []

    def fake_publish(execution_id, queue="default", delay_ms=None, priority=0):
        sent_at = Execution.objects.filter(pk=execution_id).values_list("sent_at", flat=True)
        calls.append((execution_id, sent_at.get(), connection.in_atomic_block))

    monkeypatch.setattr("scripts_app.runs.sending.publish", fake_publish)
    return calls


def statements(queries) -> list[str]:
    return [query["sql"].split()[0] for query in queries]


def no_reading(*args, **kwargs):
    raise AssertionError("the upload was read")


def test_a_trigger_is_one_select_and_one_insert(transactional_db, make_job, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "scripts_app.runs.sending.publish",
        lambda pk, queue, delay_ms=None, priority=0: sent.append(pk),
    )
    job = make_job()
    dispatch.trigger(job, trigger=Trigger.API)  # the first run stores the script version
    with CaptureQueriesContext(connection) as queries:
        run = dispatch.trigger(job, trigger=Trigger.API)
    assert statements(queries) == ["SELECT", "INSERT"]  # no BEGIN, COMMIT or UPDATE
    assert sent[-1] == run.pk


def test_the_run_is_committed_and_stamped_sent_before_it_is_published(
    transactional_db, make_job, published
):
    run = dispatch.trigger(make_job(), trigger=Trigger.API)
    assert published == [(run.pk, run.created_at, False)]  # stamped by the INSERT itself


def test_a_trigger_that_does_not_send_is_one_select_and_one_insert(transactional_db, make_job):
    job = make_job()
    dispatch.trigger(job, trigger=Trigger.API, send=False)
    with CaptureQueriesContext(connection) as queries:
        run = dispatch.trigger(job, trigger=Trigger.API, send=False)
    assert statements(queries) == ["SELECT", "INSERT"]
    run.refresh_from_db()
    assert run.sent_at is None


def test_in_a_callers_transaction_the_run_is_stamped_only_when_sent_after_commit(
    transactional_db, make_job, published
):
    job = make_job()
    with transaction.atomic():
        run = dispatch.trigger(job, trigger=Trigger.API)
        assert Execution.objects.get(pk=run.pk).sent_at is None
    assert len(published) == 1
    execution_id, sent_at, in_transaction = published[0]
    assert execution_id == run.pk and sent_at is not None and not in_transaction


def test_a_duplicate_slot_leaves_the_callers_transaction_usable(make_job):
    job = make_job()
    with transaction.atomic():
        dispatch.trigger(job, trigger=Trigger.SCHEDULE, scheduled_for=SLOT, send=False)
        with pytest.raises(IntegrityError):
            dispatch.trigger(job, trigger=Trigger.SCHEDULE, scheduled_for=SLOT, send=False)
        assert Execution.objects.filter(job=job).count() == 1  # not an aborted transaction


def test_an_unchanged_upload_is_pinned_without_reading_it(make_job, monkeypatch):
    job = make_job()
    first = dispatch.trigger(job, trigger=Trigger.API, send=False)
    monkeypatch.setattr(FieldFile, "open", no_reading)
    second = dispatch.trigger(job, trigger=Trigger.API, send=False)
    assert (second.script_version_id, second.script_sha256) == (
        first.script_version_id,
        first.script_sha256,
    )


def test_a_reupload_under_the_same_file_name_is_pinned_to_its_new_bytes(make_job):
    job = make_job(slug="echo")
    first = dispatch.trigger(job, trigger=Trigger.API, send=False)
    job.script = script_file("def main(data):\n    return 2\n", "echo.py")
    job.save()
    second = dispatch.trigger(job, trigger=Trigger.API, send=False)
    assert second.script_sha256 != first.script_sha256
    version = ScriptVersion.objects.get(pk=second.script_version_id)
    assert version.sha256 == second.script_sha256
    with version.file.open("rb") as handle:
        assert handle.read() == b"def main(data):\n    return 2\n"


def test_an_upload_name_with_two_versions_is_read_and_hashed(make_job, monkeypatch):
    job = make_job()
    first = dispatch.trigger(job, trigger=Trigger.API, send=False)
    ScriptVersion.objects.create(
        job=job, sha256="0" * 64, file="scripts/echo/other.py", size=1, source=job.script.name
    )
    reads = []
    open_file = FieldFile.open
    monkeypatch.setattr(
        FieldFile, "open", lambda self, *a: reads.append(self.name) or open_file(self, *a)
    )
    run = dispatch.trigger(job, trigger=Trigger.API, send=False)
    assert reads == [job.script.name]  # the name is ambiguous: the bytes decide
    assert (run.script_version_id, run.script_sha256) == (
        first.script_version_id,
        first.script_sha256,
    )


def test_a_parsers_file_changed_in_place_is_pinned_to_its_new_bytes(db, settings, tmp_path):
    settings.PARSEQ_SCRIPTS_DIR = tmp_path
    (tmp_path / "tool.py").write_text("def main(data):\n    return 1\n")
    job = Job(name="Tool", slug="tool", script_path="tool.py")
    job.save()
    first = dispatch.trigger(job, trigger=Trigger.API, send=False)
    (tmp_path / "tool.py").write_text("def main(data):\n    return 2\n")
    second = dispatch.trigger(job, trigger=Trigger.API, send=False)
    assert second.script_sha256 != first.script_sha256
    version = ScriptVersion.objects.get(pk=second.script_version_id)
    with version.file.open("rb") as handle:
        assert handle.read() == b"def main(data):\n    return 2\n"
