"""Misfire policies: which due slots run and which are recorded skipped, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scripts_app.schedule.describe import humanize


@dataclass(frozen=True)
class Decision:
    """What the scheduler does with one due slot: run it, or record it as skipped."""

    slot: datetime
    run: bool
    reason: str = ""


def plan(
    slots: list[datetime],
    now: datetime,
    *,
    misfire_policy: str,
    grace: timedelta,
    catch_up_limit: int,
    omitted: bool = False,
) -> list[Decision]:
    """Decide, for due ``slots`` (oldest first), which run and which are recorded skipped.

    A slot no more than ``grace`` late is on time and runs. Later ones misfired
    (the scheduler was down or the clock jumped) and follow the misfire policy:
    ``coalesce`` runs one for the whole window, ``skip`` runs none,
    ``catch_up`` runs the latest ``catch_up_limit`` of them. Nothing is dropped
    silently: every slot not run gets a reason.
    """
    late = [s for s in slots if now - s > grace]
    on_time = [s for s in slots if now - s <= grace]
    decisions: list[Decision] = []
    if misfire_policy == "catch_up":
        run_late = set(late[-catch_up_limit:]) if catch_up_limit > 0 else set()
        for slot in late:
            reason = (
                "" if slot in run_late else f"missed; beyond the catch-up limit of {catch_up_limit}"
            )
            decisions.append(Decision(slot, slot in run_late, reason))
    elif misfire_policy == "skip":
        decisions += [
            Decision(
                slot,
                False,
                f"missed: due {_late_by(now - slot)} before the scheduler ran (misfire policy skip)",
            )
            for slot in late
        ]
    else:  # coalesce
        target = on_time[0] if on_time else (late[-1] if late else None)
        for slot in late:
            if slot == target:
                decisions.append(Decision(slot, True))
            else:
                decisions.append(
                    Decision(slot, False, f"missed; coalesced into the run for {_iso(target)}")
                )
    decisions += [Decision(slot, True) for slot in on_time]
    if omitted:
        note = "; earlier missed slots (since the planned time) are not listed one by one"
        for i, decision in enumerate(decisions):
            if not decision.run:
                decisions[i] = Decision(decision.slot, False, decision.reason + note)
                break
    return decisions


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "?"


def _late_by(delta: timedelta) -> str:
    return humanize(timedelta(seconds=int(delta.total_seconds())))
