"""A prepared query gives what its queryset gives, in one query, without recompiling."""

from __future__ import annotations

import threading

from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scripts_app.models import Execution, Status, Trigger
from scripts_app.runs import dispatch, prepared
from scripts_app.runs.prepared import PreparedQuery
from scripts_app.worker import execution

# The worker's own query: the run, its job and version, and whether the job has secrets.
run_with_job = execution._run_with_all_it_needs


def test_it_loads_the_row_its_related_rows_and_annotations_like_the_orm(make_job):
    run = dispatch.trigger(make_job(), params={"n": 1}, trigger=Trigger.API, send=False)
    expected = run_with_job(run.pk).get()
    query = PreparedQuery(run_with_job)
    with CaptureQueriesContext(connection) as queries:
        loaded = query.first(run.pk)
        job, version = loaded.job, loaded.script_version  # already there: no query
    assert len(queries.captured_queries) == 1
    fields = [f.attname for f in Execution._meta.concrete_fields]
    assert [getattr(loaded, f) for f in fields] == [getattr(expected, f) for f in fields]
    assert (job.slug, version.sha256, loaded.has_secrets) == (
        expected.job.slug,
        expected.script_version.sha256,
        False,
    )
    assert loaded.params == {"n": 1} and not loaded._state.adding


def test_it_answers_none_for_a_missing_row_and_compiles_once_per_thread(make_job, monkeypatch):
    run = dispatch.trigger(make_job(), trigger=Trigger.API, send=False)
    builds = []

    def counting(pk: int):
        builds.append(pk)
        return run_with_job(pk)

    query = PreparedQuery(counting)
    assert query.first(run.pk + 1000) is None
    assert query.first(run.pk).pk == run.pk
    assert len(builds) == 1

    def other_thread():
        query.first(run.pk)
        connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(builds) == 2  # a compiler holds its own thread's connection


def test_a_prepared_update_writes_what_the_orm_would(make_job):
    job = make_job()
    ours, orms = (dispatch.trigger(job, trigger=Trigger.API, send=False) for _ in range(2))
    now = timezone.now()
    values = {
        "status": Status.SUCCEEDED,
        "result": {"rows": [1, None, "ü"]},
        "error": "",
        "exit_code": 0,
        "pid": None,
        "finished_at": now,
        "log": "executions/1/log.txt",
    }
    where = {"status": Status.QUEUED}
    changed = prepared.update_where(Execution, {"pk": ours.pk, **where}, values)
    assert changed == Execution.objects.filter(pk=orms.pk, **where).update(**values) == 1
    fields = [
        f.attname for f in Execution._meta.concrete_fields if f.attname not in ("id", "created_at")
    ]
    as_row = lambda pk: Execution.objects.filter(pk=pk).values(*fields).get()  # noqa: E731
    mine, theirs = as_row(ours.pk), as_row(orms.pk)
    assert mine == theirs and mine["finished_at"] == now and mine["pid"] is None


def test_a_prepared_update_changes_nothing_when_the_condition_does_not_hold(make_job):
    run = dispatch.trigger(make_job(), trigger=Trigger.API, send=False)
    changed = prepared.update_where(
        Execution, {"pk": run.pk, "status": Status.RUNNING}, {"status": Status.SUCCEEDED}
    )
    assert changed == 0 and Execution.objects.get(pk=run.pk).status == Status.QUEUED


def test_a_value_that_needs_the_orm_is_left_to_it(make_job):
    run = dispatch.trigger(make_job(), trigger=Trigger.API, send=False)
    assert prepared.update_where(Execution, {"pk": run.pk}, {"attempt": F("attempt") + 1}) is None
