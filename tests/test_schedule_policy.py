"""Which due slots run and which are recorded skipped: pure functions, no database."""

from datetime import UTC, datetime, timedelta

from scripts_app.schedule import due_slots, next_fire, plan
from tests.schedule_jobs import job

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)


def minutes(*offsets):
    return [T0 + timedelta(minutes=m) for m in offsets]


def decide(slots, now, policy, limit=3, omitted=False):
    return plan(
        slots, now, misfire_policy=policy, grace=GRACE, catch_up_limit=limit, omitted=omitted
    )


def test_an_on_time_slot_runs_under_every_policy():
    for policy in ("coalesce", "skip", "catch_up"):
        decisions = decide(minutes(0), T0 + timedelta(seconds=2), policy)
        assert [(d.slot, d.run, d.reason) for d in decisions] == [(T0, True, "")]


def test_coalesce_runs_the_latest_missed_slot_and_records_the_rest():
    decisions = decide(minutes(0, 1, 2, 3), T0 + timedelta(minutes=10), "coalesce")
    assert [d.run for d in decisions] == [False, False, False, True]
    assert decisions[0].reason == "missed; coalesced into the run for 2026-01-01 12:03:00 UTC"


def test_coalesce_folds_missed_slots_into_an_on_time_one():
    decisions = decide(minutes(0, 1, 2), T0 + timedelta(minutes=2, seconds=5), "coalesce")
    assert [d.run for d in decisions] == [False, False, True]
    assert "12:02:00" in decisions[0].reason


def test_skip_runs_no_missed_slot_and_says_how_late_each_was():
    decisions = decide(minutes(0, 1), T0 + timedelta(minutes=10), "skip")
    assert [d.run for d in decisions] == [False, False]
    assert decisions[0].reason == (
        "missed: due 10 minutes before the scheduler ran (misfire policy skip)"
    )


def test_catch_up_runs_only_the_latest_slots_up_to_its_limit():
    decisions = decide(minutes(0, 1, 2, 3, 4), T0 + timedelta(minutes=10), "catch_up", limit=3)
    assert [d.run for d in decisions] == [False, False, True, True, True]
    assert decisions[0].reason == "missed; beyond the catch-up limit of 3"


def test_every_slot_gets_exactly_one_decision():
    slots = minutes(*range(20))
    for policy in ("coalesce", "skip", "catch_up"):
        decisions = decide(slots, T0 + timedelta(minutes=19, seconds=30), policy)
        assert [d.slot for d in decisions] == slots
        assert all(d.run or d.reason for d in decisions)


def test_left_out_slots_are_mentioned_on_the_oldest_skipped_row():
    decisions = decide(minutes(0, 1), T0 + timedelta(minutes=10), "skip", omitted=True)
    assert "earlier missed slots" in decisions[0].reason
    assert "earlier missed slots" not in decisions[1].reason


def test_due_slots_lists_every_slot_up_to_now_starting_at_the_planned_one():
    cron = job(cron="*/5 * * * *")
    slots, omitted = due_slots(cron, T0, T0 + timedelta(minutes=12), limit=100)
    assert slots == minutes(0, 5, 10)
    assert omitted is False


def test_due_slots_is_empty_before_the_planned_time():
    assert due_slots(job(cron="* * * * *"), T0, T0 - timedelta(seconds=1), 10) == ([], False)


def test_due_slots_keeps_the_latest_slots_after_long_downtime():
    cron = job(cron="* * * * *")
    now = T0 + timedelta(days=30, seconds=30)
    slots, omitted = due_slots(cron, T0, now, limit=5)
    assert omitted is True
    assert slots == [now.replace(second=0) - timedelta(minutes=m) for m in (4, 3, 2, 1, 0)]
    assert next_fire(cron, slots[-1]) > now


def test_due_slots_for_an_interval_after_long_downtime():
    every = job(start_at=T0, repeat_every=timedelta(seconds=7))
    now = T0 + timedelta(days=3)
    slots, omitted = due_slots(every, T0, now, limit=3)
    assert omitted is True
    assert [(s - T0) % timedelta(seconds=7) for s in slots] == [timedelta(0)] * 3
    assert slots[-1] <= now < slots[-1] + timedelta(seconds=7)


def test_the_next_slot_counts_from_the_planned_time_not_from_now():
    every = job(start_at=T0, repeat_every=timedelta(minutes=10))
    # Handled 3 minutes late, the following slot is still on the 10-minute grid.
    assert next_fire(every, T0) == T0 + timedelta(minutes=10)
    assert next_fire(every, T0 + timedelta(minutes=3)) == T0 + timedelta(minutes=10)


def test_a_one_off_has_nothing_after_its_time():
    once = job(start_at=T0)
    assert next_fire(once, T0 - timedelta(seconds=1)) == T0
    assert next_fire(once, T0) is None
