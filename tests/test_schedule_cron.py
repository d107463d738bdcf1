"""Cron parsing and wall-clock matching: pure functions, no database."""

from datetime import datetime

import pytest

from scripts_app.schedule import CronError, next_wall_time, parse_cron


def walk(expression: str, after: datetime, count: int) -> list[datetime]:
    spec, times = parse_cron(expression), []
    for _ in range(count):
        after = next_wall_time(spec, after)
        times.append(after)
    return times


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("61 * * * *", "minute field: 61 is out of range 0–59"),
        ("* 24 * * *", "hour field: 24 is out of range 0–23"),
        ("* * 0 * *", "day of month field: 0 is out of range 1–31"),
        ("* * * 13 *", "month field: 13 is out of range 1–12"),
        ("* * * * 8", "day of week field: 8 is out of range 0–7"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "step must be at least 1"),
        ("H * * * *", "“h” is not a number or a known name"),
        ("0 0 L * *", "“l” is not a number or a known name"),
        ("1,,2 * * * *", "is not valid cron syntax"),
        ("@every_minute", "unknown alias"),
        ("0 0 30 2 *", "never matches a real date"),
        ("0 0 31 4,6,9,11 *", "never matches a real date"),
    ],
)
def test_it_refuses_a_bad_expression_with_the_reason(expression, reason):
    with pytest.raises(CronError, match=reason):
        parse_cron(expression)


def test_it_fires_every_minute_strictly_after_the_start():
    times = walk("* * * * *", datetime(2026, 1, 1, 10, 0, 30), 2)
    assert times == [datetime(2026, 1, 1, 10, 1), datetime(2026, 1, 1, 10, 2)]


def test_it_does_not_return_the_start_itself():
    assert walk("0 9 * * *", datetime(2026, 1, 1, 9, 0), 1) == [datetime(2026, 1, 2, 9, 0)]


def test_it_understands_lists_ranges_and_steps():
    times = walk("0,30 9-10 * * *", datetime(2026, 1, 1), 5)
    assert [t.strftime("%d %H:%M") for t in times] == [
        "01 09:00",
        "01 09:30",
        "01 10:00",
        "01 10:30",
        "02 09:00",
    ]
    assert [t.minute for t in walk("5/20 * * * *", datetime(2026, 1, 1), 3)] == [5, 25, 45]


def test_it_reads_month_and_weekday_names_and_7_as_sunday():
    # 2026-01-04 is a Sunday.
    assert walk("0 0 * jan sun", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 4)]
    assert walk("0 0 * * 7", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 4)]


def test_a_weekday_range_skips_the_weekend():
    # 2026-01-02 is a Friday.
    times = walk("0 9 * * mon-fri", datetime(2026, 1, 2, 10), 2)
    assert times == [datetime(2026, 1, 5, 9), datetime(2026, 1, 6, 9)]


def test_both_day_fields_restricted_means_either_matches_as_in_vixie_cron():
    # The 13th, or any Friday: Friday 2026-02-06 comes before the 13th.
    assert walk("0 0 13 * 5", datetime(2026, 2, 1), 2) == [
        datetime(2026, 2, 6),
        datetime(2026, 2, 13),
    ]


def test_one_restricted_day_field_must_match():
    assert walk("0 0 13 * *", datetime(2026, 2, 1), 1) == [datetime(2026, 2, 13)]


def test_aliases_expand_to_their_expressions():
    assert walk("@hourly", datetime(2026, 1, 1, 10, 5), 1) == [datetime(2026, 1, 1, 11)]
    assert walk("@daily", datetime(2026, 1, 1, 10), 1) == [datetime(2026, 1, 2)]
    assert walk("@weekly", datetime(2026, 1, 1), 1) == [datetime(2026, 1, 4)]
    assert walk("@monthly", datetime(2026, 1, 15), 1) == [datetime(2026, 2, 1)]
    assert walk("@yearly", datetime(2026, 1, 15), 1) == [datetime(2027, 1, 1)]


def test_february_29th_waits_for_a_leap_year():
    assert walk("0 0 29 2 *", datetime(2026, 3, 1), 1) == [datetime(2028, 2, 29)]


def test_it_rolls_over_month_and_year_ends():
    assert walk("59 23 31 12 *", datetime(2026, 12, 31, 23, 59), 1) == [
        datetime(2027, 12, 31, 23, 59)
    ]
