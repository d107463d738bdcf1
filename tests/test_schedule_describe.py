"""The schedule in words and the next fire times, as the admin shows them."""

from datetime import UTC, datetime, timedelta

import pytest

from scripts_app.schedule import describe, upcoming
from tests.schedule_jobs import job


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"},
            "At 09:00 on Monday–Friday (Europe/Berlin)",
        ),
        ({"cron": "30 8,17 * * *"}, "At 08:30 and 17:30 (UTC)"),
        ({"cron": "* * * * *"}, "Every minute (UTC)"),
        ({"cron": "*/15 * * * *"}, "Every 15 minutes (UTC)"),
        ({"cron": "@hourly"}, "At minute 0 of every hour (UTC)"),
        ({"cron": "0 0 1 * *"}, "At 00:00 on day 1 of the month (UTC)"),
        ({"cron": "0 6 * 1,7 *"}, "At 06:00 in January and July (UTC)"),
        ({"cron": "0 6 * * 0,6"}, "At 06:00 on Sunday and Saturday (UTC)"),
        ({"cron": "0 6 13 * 5"}, "At 06:00 on day 13 of the month or Friday (UTC)"),
        ({"cron": "0-10/5 */2 * * *"}, "At minute 0-10/5 past hour */2 (UTC)"),
        (
            {"start_at": datetime(2026, 1, 1, tzinfo=UTC), "repeat_every": timedelta(minutes=15)},
            "Every 15 minutes from 2026-01-01 00:00 UTC",
        ),
        (
            {"start_at": datetime(2026, 1, 1, tzinfo=UTC), "repeat_every": timedelta(hours=1)},
            "Every hour from 2026-01-01 00:00 UTC",
        ),
        (
            {"start_at": datetime(2026, 1, 1, tzinfo=UTC), "repeat_every": timedelta(minutes=90)},
            "Every 1 hour 30 minutes from 2026-01-01 00:00 UTC",
        ),
        (
            {"start_at": datetime(2026, 6, 1, 7, tzinfo=UTC), "timezone": "Europe/Berlin"},
            "Once at 2026-06-01 09:00 (Europe/Berlin)",
        ),
        ({}, "Not scheduled"),
    ],
)
def test_it_describes_the_schedule_in_words(fields, words, settings):
    settings.TIME_ZONE = "UTC"
    assert describe(job(**fields)) == words


def test_upcoming_lists_the_next_fire_times_in_the_job_zone():
    fires = upcoming(
        job(cron="0 9 * * *", timezone="Europe/Berlin"),
        count=3,
        after=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert [f.at.isoformat() for f in fires] == [
        "2026-01-01T09:00:00+01:00",
        "2026-01-02T09:00:00+01:00",
        "2026-01-03T09:00:00+01:00",
    ]
    assert fires[0].utc == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert [f.note for f in fires] == ["", "", ""]


def test_upcoming_defaults_to_five_times_after_now():
    fires = upcoming(job(cron="* * * * *"))
    assert len(fires) == 5
    assert fires[0].utc > datetime.now(UTC)


def test_upcoming_is_empty_without_a_schedule_or_after_a_one_off():
    assert upcoming(job()) == []
    assert upcoming(job(start_at=datetime(2020, 1, 1, tzinfo=UTC))) == []
