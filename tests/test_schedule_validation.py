"""The one schedule validator refuses bad input with a message on the right field."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from scripts_app import validators


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("every day", "5 fields"),
        ("0 25 * * *", "hour field: 25 is out of range 0–23"),
        ("0 0 30 2 *", "never matches a real date"),
        ("@fortnightly", "unknown alias"),
    ],
)
def test_it_rejects_bad_cron_with_the_reason(value, message):
    with pytest.raises(ValidationError) as caught:
        validators.validate_cron(value)
    assert caught.value.code == "cron"
    assert message in caught.value.messages[0]
    assert value in caught.value.messages[0]


def test_it_accepts_good_cron_and_aliases():
    for value in ("*/5 * * * *", "0 9 * * mon-fri", "@daily", "  0  0 1 * * "):
        validators.validate_cron(value)


@pytest.mark.parametrize("value", ["Mars/Olympus", "Europe/berlin ", "../etc/passwd", "UTC+3"])
def test_it_rejects_an_unknown_time_zone(value):
    with pytest.raises(ValidationError, match="is not an IANA time zone"):
        validators.validate_timezone(value)


def test_it_rejects_an_interval_without_a_start(make_job):
    with pytest.raises(ValidationError) as caught:
        make_job(repeat_every=timedelta(minutes=5))
    assert "start_at" in caught.value.message_dict


def test_it_rejects_an_interval_under_a_second(make_job):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        make_job(start_at=start, repeat_every=timedelta(milliseconds=10))
    assert "repeat_every" in caught.value.message_dict


def test_it_rejects_cron_and_interval_together(make_job):
    with pytest.raises(ValidationError, match="either a cron expression or"):
        make_job(cron="* * * * *", start_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_model_puts_a_bad_cron_on_the_cron_field(make_job):
    with pytest.raises(ValidationError) as caught:
        make_job(cron="61 * * * *", timezone="Nowhere/City")
    errors = caught.value.message_dict
    assert "minute field: 61 is out of range" in errors["cron"][0]
    assert "not an IANA time zone" in errors["timezone"][0]
