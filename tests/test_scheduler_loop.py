"""The scheduler loop's own bookkeeping: a failing step is reported, never a loop failure."""

import logging
import threading

import pytest
from django.core.management import CommandError, call_command

from scripts_app.scheduling import loop

POLL = 0.05


class Passes(threading.Event):
    """A stop event that records every wait of the loop and stops it after ``count``."""

    def __init__(self, count: int):
        super().__init__()
        self.count = count
        self.waits: list[float] = []

    def wait(self, timeout=None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.count:
            self.set()
        return self.is_set()


@pytest.fixture
def broken_firing(monkeypatch):
    """fire_due always fails; the reaper counts its calls."""
    reaped = []

    def fire_due(now):
        raise OSError("a script in storage cannot be read")

    def reap_lost(now):
        reaped.append(now)
        return []

    monkeypatch.setattr(loop, "STEPS", [fire_due, reap_lost])
    return reaped


def test_a_failing_step_never_backs_the_loop_off(db, broken_firing, caplog):
    stop = Passes(5)
    with caplog.at_level(logging.ERROR, logger="scripts_app.scheduler"):
        loop.run(stop, poll=POLL, housekeeping=0)
    assert len(broken_firing) == 5  # the reaper ran on every pass
    assert max(stop.waits) <= POLL  # no backoff: the loop itself never failed
    failures = [r.getMessage() for r in caplog.records]
    assert failures == ["scheduler step fire_due failed"] * 5


def test_the_tick_says_which_steps_failed(db, broken_firing):
    results = loop.tick()
    assert list(results.failed) == ["fire_due"]
    assert isinstance(results.failed["fire_due"], OSError)
    assert results.fired.jobs == 0
    assert results["reap_lost"] == []


def test_runscheduler_once_reports_the_failed_step_and_exits_non_zero(db, broken_firing, capsys):
    with pytest.raises(CommandError, match="1 step failed: fire_due") as caught:
        call_command("runscheduler", "--once")
    assert caught.value.returncode == 1
    out, err = capsys.readouterr()
    assert "fired 0 job(s)" in out
    assert "step fire_due failed: OSError: a script in storage cannot be read" in err
    assert len(broken_firing) == 1  # the other steps still ran
