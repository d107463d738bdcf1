"""Wall-clock fire times across DST: each fires at most once; gap times fire right
after the gap. Pure functions, no database."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scripts_app import schedule
from tests.schedule_jobs import job


def local(fires, fmt="%m-%d %H:%M %Z"):
    return [f.at.strftime(fmt) for f in fires]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_new_york_spring_gap_time_fires_once_right_after_the_gap():
    fires = schedule.upcoming(
        job(cron="30 2 * * *", timezone="America/New_York"), 3, after=utc(2026, 3, 7, 12)
    )
    assert local(fires) == ["03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"]
    assert fires[0].utc == utc(2026, 3, 8, 7, 0)
    assert fires[0].note == "DST gap: 02:30 does not exist; fires at 03:00"
    assert fires[1].note == ""


def test_several_gap_times_collapse_into_one_run_after_the_gap():
    fires = schedule.upcoming(
        job(cron="*/15 * * * *", timezone="America/New_York"), 4, after=utc(2026, 3, 8, 6, 40)
    )
    assert local(fires, "%H:%M %Z") == ["01:45 EST", "03:00 EDT", "03:15 EDT", "03:30 EDT"]
    assert len({f.utc for f in fires}) == 4


def test_new_york_repeated_autumn_hour_fires_once():
    fires = schedule.upcoming(
        job(cron="30 1 * * *", timezone="America/New_York"), 2, after=utc(2026, 10, 31, 12)
    )
    assert local(fires) == ["11-01 01:30 EDT", "11-02 01:30 EST"]
    assert fires[0].note == "DST repeat: 01:30 occurs twice; fires once"


def test_it_does_not_fire_again_when_asked_from_inside_the_repeated_hour():
    # 01:40 EST is the second pass; 01:30 (first pass, EDT) has already fired.
    second_pass = datetime(2026, 11, 1, 1, 40, tzinfo=ZoneInfo("America/New_York"), fold=1)
    fires = schedule.upcoming(
        job(cron="30 1 * * *", timezone="America/New_York"), 1, after=second_pass
    )
    assert local(fires) == ["11-02 01:30 EST"]


def test_a_frequent_job_runs_each_wall_time_of_the_repeated_hour_once():
    fires = schedule.upcoming(
        job(cron="*/30 * * * *", timezone="America/New_York"), 5, after=utc(2026, 11, 1, 4, 45)
    )
    assert local(fires, "%H:%M %Z") == [
        "01:00 EDT",
        "01:30 EDT",
        "02:00 EST",
        "02:30 EST",
        "03:00 EST",
    ]


def test_berlin_gap_and_repeat():
    berlin = "Europe/Berlin"
    spring = schedule.upcoming(
        job(cron="30 2 * * *", timezone=berlin), 1, after=utc(2026, 3, 28, 12)
    )
    assert local(spring) == ["03-29 03:00 CEST"]
    assert spring[0].utc == utc(2026, 3, 29, 1, 0)
    autumn = schedule.upcoming(
        job(cron="30 2 * * *", timezone=berlin), 2, after=utc(2026, 10, 24, 12)
    )
    assert local(autumn) == ["10-25 02:30 CEST", "10-26 02:30 CET"]
    assert autumn[0].note.startswith("DST repeat")


def test_lord_howe_half_hour_gap_fires_at_its_end():
    fires = schedule.upcoming(
        job(cron="15 2 * * *", timezone="Australia/Lord_Howe"), 2, after=utc(2026, 10, 3)
    )
    assert [f.at.strftime("%m-%d %H:%M %z") for f in fires] == [
        "10-04 02:30 +1100",
        "10-05 02:15 +1100",
    ]
    assert fires[0].note == "DST gap: 02:15 does not exist; fires at 02:30"


def test_lord_howe_half_hour_repeat_fires_once():
    fires = schedule.upcoming(
        job(cron="45 1 * * *", timezone="Australia/Lord_Howe"), 2, after=utc(2026, 4, 4)
    )
    assert [f.at.strftime("%m-%d %H:%M %z") for f in fires] == [
        "04-05 01:45 +1100",
        "04-06 01:45 +1030",
    ]
    # 24.5 hours apart: the half-hour shift is real elapsed time, not a second run.
    assert fires[1].utc - fires[0].utc == timedelta(hours=24, minutes=30)


def test_a_job_zone_different_from_the_servers_uses_the_job_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    tokyo = schedule.upcoming(
        job(cron="0 9 * * *", timezone="Asia/Tokyo"), 1, after=utc(2026, 3, 8, 0, 30)
    )
    assert tokyo[0].utc == utc(2026, 3, 9, 0, 0)  # 09:00 JST, not 09:00 in New York
    assert tokyo[0].at.tzinfo == ZoneInfo("Asia/Tokyo")


def test_a_job_without_a_zone_uses_the_server_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    fires = schedule.upcoming(job(cron="0 9 * * *"), 1, after=utc(2026, 1, 1))
    assert fires[0].utc == utc(2026, 1, 1, 8, 0)


def test_an_interval_counts_elapsed_time_across_dst():
    start = datetime(2026, 3, 7, 12, tzinfo=ZoneInfo("America/New_York"))
    fires = schedule.upcoming(
        job(start_at=start, repeat_every=timedelta(days=1), timezone="America/New_York"),
        2,
        after=start - timedelta(seconds=1),
    )
    assert [f.utc for f in fires] == [utc(2026, 3, 7, 17), utc(2026, 3, 8, 17)]
    assert local(fires) == ["03-07 12:00 EST", "03-08 13:00 EDT"]
