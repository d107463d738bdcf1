"""One scheduler tick against the database, with an injected clock (no sleeping)."""

from datetime import UTC, datetime, timedelta

import pytest

from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.scheduling import loop

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes=0, seconds=0):
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def planned(job: Job, moment: datetime) -> Job:
    """Pretend the job was planned for ``moment`` (the save hook planned it from real now)."""
    Job.objects.filter(pk=job.pk).update(next_run_at=moment)
    job.refresh_from_db()
    return job


def rows(job: Job):
    return list(job.executions.order_by("scheduled_for").values_list("scheduled_for", "status"))


@pytest.fixture
def every5(make_job):
    return planned(make_job(slug="every5", cron="*/5 * * * *", timezone="UTC"), at(0))


def test_it_fires_a_due_job_once_and_sends_it_after_commit(
    every5, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        result = loop.tick(at(0, 3))
    assert result["fire_due"].runs == 1
    execution = every5.executions.get()
    assert execution.sent_at is None  # nothing is sent before the commit
    for callback in callbacks:
        callback()
    execution.refresh_from_db()
    assert execution.sent_at is not None
    assert (execution.scheduled_for, execution.status, execution.trigger) == (
        at(0),
        Status.QUEUED,
        Trigger.SCHEDULE,
    )
    every5.refresh_from_db()
    assert every5.next_run_at == at(5)


def test_the_batch_path_sends_runs_of_jobs_that_ran_before(
    every5, django_capture_on_commit_callbacks
):
    Job.objects.filter(pk=every5.pk).update(overlap_policy="allow")
    loop.tick(at(0, 1))  # the first run stores the script version
    with django_capture_on_commit_callbacks(execute=True):
        loop.tick(at(5, 1))
    second = every5.executions.get(scheduled_for=at(5))
    assert second.status == Status.QUEUED
    assert second.script_version == every5.executions.get(scheduled_for=at(0)).script_version
    assert second.sent_at is not None


def test_a_second_tick_in_the_same_slot_changes_nothing(every5):
    loop.tick(at(0, 3))
    loop.tick(at(0, 4))
    assert rows(every5) == [(at(0), Status.QUEUED)]


def test_a_job_not_yet_due_does_not_fire(every5):
    loop.tick(at(0, -1))
    assert rows(every5) == []


def test_a_disabled_job_never_fires(every5):
    Job.objects.filter(pk=every5.pk).update(enabled=False)  # even with a stale next_run_at
    loop.tick(at(60))
    assert rows(every5) == []


def test_disabling_clears_next_run_at_and_enabling_plans_from_now(every5):
    every5.enabled = False
    every5.save()
    assert every5.next_run_at is None
    every5.enabled = True
    every5.save()
    assert every5.next_run_at > datetime.now(UTC)
    assert every5.next_run_at.minute % 5 == 0


def test_editing_the_schedule_replans_but_editing_the_name_does_not(every5):
    every5.name = "Renamed"
    every5.save()
    assert Job.objects.get(pk=every5.pk).next_run_at == at(0)
    every5.cron = "0 3 * * *"
    every5.save()
    assert every5.next_run_at.hour == 3


def test_the_next_slot_counts_from_the_planned_time_even_when_handled_late(every5):
    loop.tick(at(0, 50))
    every5.refresh_from_db()
    assert every5.next_run_at == at(5)


def test_a_one_off_fires_once_and_then_has_no_next_run(make_job):
    once = planned(make_job(slug="once", start_at=at(30)), at(30))
    loop.tick(at(30, 1))
    loop.tick(at(90))
    once.refresh_from_db()
    assert rows(once) == [(at(30), Status.QUEUED)]
    assert once.next_run_at is None


def test_a_replayed_slot_is_not_recorded_twice(every5):
    loop.tick(at(0, 1))
    planned(every5, at(0))  # e.g. a stale in-memory job saved over the advanced row
    loop.tick(at(0, 2))
    assert rows(every5) == [(at(0), Status.QUEUED)]


# ---- killed and restarted inside a window: the misfire policies


def restart_after_downtime(job: Job, policy: str) -> None:
    Job.objects.filter(pk=job.pk).update(misfire_policy=policy, overlap_policy="allow")
    loop.tick(at(0, 1))  # runs the 09:00 slot, then the scheduler is "killed"
    loop.tick(at(62))  # restarted at 10:02: 09:05 … 10:00 were missed


def test_coalesce_runs_once_for_the_missed_window_and_records_every_missed_slot(every5):
    restart_after_downtime(every5, "coalesce")
    missed = rows(every5)[1:]
    assert [slot for slot, _ in missed] == [at(m) for m in range(5, 61, 5)]
    assert [status for _, status in missed] == [Status.SKIPPED] * 11 + [Status.QUEUED]
    reason = every5.executions.filter(status=Status.SKIPPED).first().error
    assert reason == "missed; coalesced into the run for 2026-01-05 10:00:00 UTC"
    every5.refresh_from_db()
    assert every5.next_run_at == at(65)


def test_skip_records_every_missed_slot_and_runs_none(every5):
    restart_after_downtime(every5, "skip")
    missed = rows(every5)[1:]
    assert [status for _, status in missed] == [Status.SKIPPED] * 12
    assert "misfire policy skip" in every5.executions.filter(status=Status.SKIPPED).first().error


def test_catch_up_runs_the_latest_missed_slots_up_to_the_limit(every5, settings):
    settings.PARSEQ_CATCH_UP_LIMIT = 3
    restart_after_downtime(every5, "catch_up")
    missed = rows(every5)[1:]
    assert [status for _, status in missed] == [Status.SKIPPED] * 9 + [Status.QUEUED] * 3
    assert [slot for slot, _ in missed[-3:]] == [at(50), at(55), at(60)]


def test_a_clock_jump_forward_is_a_bounded_missed_window(every5, settings):
    settings.PARSEQ_MISSED_ROWS_LIMIT = 5
    Job.objects.filter(pk=every5.pk).update(misfire_policy="skip")
    loop.tick(at(0, 1))
    jumped = at(3 * 24 * 60, 30)  # the clock leaps three days
    loop.tick(jumped)
    skipped = list(every5.executions.filter(status=Status.SKIPPED).order_by("scheduled_for"))
    assert [e.scheduled_for for e in skipped] == [at(3 * 24 * 60 - m) for m in (20, 15, 10, 5, 0)]
    assert "earlier missed slots" in skipped[0].error
    every5.refresh_from_db()
    assert every5.next_run_at == at(3 * 24 * 60 + 5)


def test_a_clock_jump_backward_fires_nothing_twice(every5):
    loop.tick(at(10, 1))
    before = rows(every5)
    loop.tick(at(2))
    assert rows(every5) == before


# ---- overlap policies


@pytest.fixture
def running(every5):
    return Execution.objects.create(job=every5, trigger=Trigger.API, status=Status.RUNNING)


def test_overlap_skip_records_a_skipped_run_with_the_reason(every5, running):
    loop.tick(at(0, 1))
    execution = every5.executions.get(scheduled_for=at(0))
    assert execution.status == Status.SKIPPED
    assert execution.error == f"overlap: run #{running.pk} has not finished (overlap policy skip)"


@pytest.mark.parametrize("policy", ["queue", "allow"])
def test_overlap_queue_and_allow_record_a_queued_run(every5, running, policy):
    Job.objects.filter(pk=every5.pk).update(overlap_policy=policy)
    loop.tick(at(0, 1))
    assert every5.executions.get(scheduled_for=at(0)).status == Status.QUEUED


def test_overlap_skip_runs_again_once_the_previous_run_finished(every5, running):
    Execution.objects.filter(pk=running.pk).update(status=Status.SUCCEEDED)
    loop.tick(at(0, 1))
    assert every5.executions.get(scheduled_for=at(0)).status == Status.QUEUED


# ---- failures stay visible and do not block other jobs


def test_a_slot_whose_params_fail_the_schema_is_a_failed_row(make_job, every5):
    schema = {"type": "object", "required": ["city"]}
    strict = planned(make_job(slug="strict", cron="* * * * *", params_schema=schema), at(0))
    loop.tick(at(0, 1))
    failed = strict.executions.get()
    assert failed.status == Status.FAILED
    assert failed.error.startswith("could not start:")
    assert "city" in failed.error
    assert rows(every5) == [(at(0), Status.QUEUED)]


def test_an_unusable_stored_cron_stops_that_job_only(make_job, every5):
    broken = planned(make_job(slug="broken", cron="* * * * *"), at(0))
    Job.objects.filter(pk=broken.pk).update(cron="99 * * * *")
    loop.tick(at(0, 1))
    broken.refresh_from_db()
    assert broken.next_run_at is None
    assert rows(every5) == [(at(0), Status.QUEUED)]


def test_the_tick_runs_every_step_with_its_clock(every5, monkeypatch):
    seen = []
    monkeypatch.setattr(loop, "STEPS", [*loop.STEPS, seen.append])
    result = loop.tick(at(0, 1))
    assert seen == [at(0, 1)]
    assert {"fire_due", "resend_stale", "reap_lost"} <= set(result)


def test_the_idle_query_returns_the_earliest_enabled_next_run(make_job, every5):
    later = make_job(slug="later", cron="0 0 1 1 *")
    off = planned(make_job(slug="off", cron="* * * * *"), at(-60))
    Job.objects.filter(pk=off.pk).update(enabled=False)
    assert later.next_run_at > at(0)
    assert loop.next_due() == at(0)


def test_a_failing_step_does_not_stop_the_reaper(make_job, monkeypatch):
    from django.utils import timezone

    from scripts_app.runs import state

    run = Execution.objects.create(job=make_job(slug="lost"), trigger=Trigger.API)
    state.claim(run.pk, "dead-worker:1")
    Execution.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    def broken(now):
        raise OSError("a script in storage cannot be read")

    broken.__name__ = "fire_due"
    monkeypatch.setattr(loop, "STEPS", [broken, *loop.STEPS[1:]])
    result = loop.tick()
    assert isinstance(result["fire_due"], OSError)
    assert result["reap_lost"] == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED
