"""croniter expands and validates cron fields; Parseq's messages and day rule stay on top."""

from datetime import datetime

import pytest
from croniter import croniter

from scripts_app.errors import CronError
from scripts_app.schedule import cron, parse_cron


def test_the_fields_are_expanded_by_croniter(monkeypatch):
    seen = []
    expand = croniter.expand

    def recording(expression, *args, **kwargs):
        seen.append(expression)
        return expand(expression, *args, **kwargs)

    monkeypatch.setattr(croniter, "expand", recording)
    spec = cron.parse_cron.__wrapped__("0,30 9-17/4 */10 jan-mar MON-FRI")
    assert seen == ["0,30 9-17/4 */10 jan-mar mon-fri"]
    assert spec.minutes == (0, 30) and spec.hours == (9, 13, 17)
    assert spec.days == {1, 11, 21, 31} and spec.months == {1, 2, 3}
    assert spec.weekdays == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("0 0 15W * *", "day of month field: “15w” is not a number or a known name"),
        ("0 0 * * 1#2", "day of week field: “1#2” is not valid cron syntax"),
        ("0 0 ? * *", r"day of month field: “\?” is not valid cron syntax"),
        ("0 0 * * fri-mon", "day of week field: range “fri-mon” runs backwards"),
        ("0 0 * foo *", "month field: “foo” is not a number or a known name"),
    ],
)
def test_croniter_extensions_are_refused_with_parseqs_message(expression, reason):
    with pytest.raises(CronError, match=reason):
        parse_cron(expression)


def test_a_restricted_day_field_starting_with_a_star_still_means_both_must_match():
    # Vixie cron's rule, kept by Parseq: */2 restricts the days but starts with '*'.
    spec = parse_cron("0 0 */2 * 1")
    assert spec.dom_star and not spec.dow_star
    assert spec.day_matches(datetime(2026, 1, 5))  # a Monday, and an odd day
    assert not spec.day_matches(datetime(2026, 1, 12))  # a Monday, but an even day
    assert not spec.day_matches(datetime(2026, 1, 7))  # an odd day, but a Wednesday
