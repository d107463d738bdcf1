"""Firing due jobs: claim a batch of them, plan each due slot (run or skipped), record
the runs in a few statements and send them after commit.

Safe to run from several schedulers at once: due jobs are claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL) plus a conditional UPDATE of
``next_run_at`` (every database), and the unique constraint ``one_execution_per_slot``
turns a duplicate slot into nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from scripts_app import schedule
from scripts_app.errors import InvalidParams, JobNotRunnable
from scripts_app.jobs import versions
from scripts_app.models import (
    ACTIVE_STATUSES,
    Execution,
    Job,
    OverlapPolicy,
    Status,
    Trigger,
)
from scripts_app.runs import dispatch, records, sending

logger = logging.getLogger("scripts_app.scheduler")


def misfire_grace() -> timedelta:
    """A slot later than this when the scheduler gets to it counts as missed."""
    return timedelta(seconds=settings.PARSEQ_MISFIRE_GRACE_SECONDS)


def catch_up_limit() -> int:
    """How many missed slots a ``catch_up`` job runs after downtime (the latest ones)."""
    return settings.PARSEQ_CATCH_UP_LIMIT


def missed_rows_limit() -> int:
    """How many missed slots of one job are recorded one by one after long downtime."""
    return settings.PARSEQ_MISSED_ROWS_LIMIT


def batch_size() -> int:
    """Jobs claimed per transaction: fewer round trips per job, while the row locks
    (which an admin edit of a due job waits for) are held for well under a second."""
    return settings.PARSEQ_SCHEDULER_BATCH


@dataclass
class Fired:
    """What one step of firing did: counts for logs, tests and the benchmark."""

    jobs: int = 0
    runs: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return f"fired {self.jobs} job(s): {self.runs} run(s), {self.skipped} skipped"

    def add(self, other: Fired) -> None:
        self.jobs += other.jobs
        self.runs += other.runs
        self.skipped += other.skipped


def due_jobs(now: datetime):
    return Job.objects.filter(enabled=True, next_run_at__isnull=False, next_run_at__lte=now)


def skipped_row(job: Job, slot: datetime, reason: str) -> Execution:
    params = job.default_params or {}
    return records.ended_slot(job, slot, status=Status.SKIPPED, error=reason, params=params)


def start_run(job: Job, slot: datetime) -> Execution | None:
    """Record the run of ``slot`` and send it after commit; None if the slot already
    has an execution (another scheduler, or a replayed ``next_run_at``)."""
    try:
        return dispatch.trigger(job, trigger=Trigger.SCHEDULE, scheduled_for=slot)
    except IntegrityError:
        return None
    except (JobNotRunnable, InvalidParams) as exc:
        # The slot happened but cannot run: a visible failed row, not a silent gap.
        row = records.ended_slot(job, slot, status=Status.FAILED, error=f"could not start: {exc}")
        try:
            with transaction.atomic():
                row.save(force_insert=True)
                return row
        except IntegrityError:
            return None


@dataclass
class Batch:
    """The writes of one claimed batch, done in a few statements rather than per job."""

    locked: bool  # rows held with FOR UPDATE: no per-job conditional claim needed
    active: dict[int, str]
    runs: list[tuple[Job, datetime]] = field(default_factory=list)
    skipped: list[Execution] = field(default_factory=list)
    advanced: list[Job] = field(default_factory=list)


def fire_job(job: Job, now: datetime, batch: Batch) -> Fired:
    """Plan every due slot of a claimed ``job`` into ``batch`` and advance its
    ``next_run_at``; ``batch.active`` tracks unfinished runs for the overlap policy."""
    planned = job.next_run_at
    try:
        slots, omitted = schedule.due_slots(job, planned, now, missed_rows_limit())
        # From the last *planned* slot, never from now: no drift, and every slot up
        # to now was just handled, so the next one is in the future.
        following = schedule.next_fire(job, slots[-1])
    except (ValueError, LookupError) as exc:  # a cron/zone saved around the validator
        logger.error("%s: schedule unusable (%s); not scheduling it", job.slug, exc)
        Job.objects.filter(pk=job.pk, next_run_at=planned).update(next_run_at=None)
        return Fired()
    if batch.locked:
        job.next_run_at = following
        batch.advanced.append(job)
    elif not Job.objects.filter(pk=job.pk, enabled=True, next_run_at=planned).update(
        next_run_at=following
    ):
        return Fired()  # another scheduler advanced it first (no row locks here)
    decisions = schedule.plan(
        slots,
        now,
        misfire_policy=job.misfire_policy,
        grace=misfire_grace(),
        catch_up_limit=catch_up_limit(),
        omitted=omitted,
    )
    fired = Fired(jobs=1)
    for decision in decisions:
        if not decision.run:
            reason = decision.reason
        elif job.overlap_policy == OverlapPolicy.SKIP and job.pk in batch.active:
            reason = f"overlap: {batch.active[job.pk]} has not finished (overlap policy skip)"
        else:
            batch.runs.append((job, decision.slot))
            batch.active[job.pk] = f"the run for {decision.slot:%Y-%m-%d %H:%M:%S %Z}"
            fired.runs += 1
            continue
        batch.skipped.append(skipped_row(job, decision.slot, reason))
        fired.skipped += 1
    if fired.skipped:
        logger.info(
            "%s: %d run(s), %d skipped; next at %s", job.slug, fired.runs, fired.skipped, following
        )
    return fired


def active_runs(jobs: list[Job]) -> dict[int, str]:
    """job id → an unfinished execution, for the jobs whose overlap policy is skip."""
    ids = [job.pk for job in jobs if job.overlap_policy == OverlapPolicy.SKIP]
    if not ids:
        return {}
    rows = Execution.objects.filter(job_id__in=ids, status__in=ACTIVE_STATUSES)
    return {job_id: f"run #{pk}" for job_id, pk in rows.values_list("job_id", "id")}


def start_runs(runs: list[tuple[Job, datetime]]) -> list[Execution]:
    """Record many scheduled runs in one INSERT and send them after commit.

    The rows are what ``dispatch.trigger`` writes; anything unusual (no stored
    script version yet, bad params, a slot already recorded) goes through
    ``start_run`` one by one instead, so the fast path never changes an outcome.
    """
    if not runs:
        return []
    ready, slow = [], []
    for job, slot in runs:
        try:
            ready.append((job, slot, dispatch.resolve_params(job, None)))
        except InvalidParams:
            slow.append((job, slot))
    # One or two queries for the whole batch; an unchanged upload is not re-read.
    pinned = versions.pinned_versions({job.pk: job for job, _, _ in ready}.values())
    rows = []
    for job, slot, params in ready:
        if job.pk not in pinned:
            slow.append((job, slot))
            continue
        rows.append(
            records.new_run(
                job,
                trigger=Trigger.SCHEDULE,
                params=params,
                scheduled_for=slot,
                version=pinned[job.pk],
            )
        )
    try:
        with transaction.atomic():
            created = Execution.objects.bulk_create(rows)
    except IntegrityError:  # some slot is already recorded: sort it out row by row
        created, slow = [], [(row.job, row.scheduled_for) for row in rows] + slow
    pointers = [(execution.pk, execution.queue) for execution in created]
    if pointers:
        sending.send_on_commit(pointers)
    created += [execution for job, slot in slow if (execution := start_run(job, slot))]
    return created


def advance(jobs: list[Job]) -> None:
    """Store the new ``next_run_at`` of claimed jobs. Jobs due together mostly share
    their next time too: one plain UPDATE per shared time, and a CASE ``bulk_update``
    (slow to build, and quadratic in the database) only for the times held by one job."""
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for job in jobs:
        by_time[job.next_run_at].append(job.pk)
    alone = set()
    for moment, ids in by_time.items():
        if len(ids) == 1:
            alone.add(ids[0])
        else:
            Job.objects.filter(pk__in=ids).update(next_run_at=moment)
    if alone:
        Job.objects.bulk_update([job for job in jobs if job.pk in alone], ["next_run_at"])


def fire_due_batch(now: datetime, limit: int | None = None) -> Fired:
    """One unit of work: claim up to ``limit`` due jobs no other scheduler holds and
    fire them, in one transaction. Messages go out after it commits."""
    fired = Fired()
    with transaction.atomic():
        claim = due_jobs(now).order_by("next_run_at", "pk")
        locked = connection.features.has_select_for_update_skip_locked
        if locked:
            claim = claim.select_for_update(skip_locked=True)
        jobs = list(claim[: limit or batch_size()])
        if not jobs:
            return fired
        batch = Batch(locked=locked, active=active_runs(jobs))
        for job in jobs:
            fired.add(fire_job(job, now, batch))
        advance(batch.advanced)
        start_runs(batch.runs)
        # ON CONFLICT DO NOTHING: a slot someone already recorded stays as it is.
        Execution.objects.bulk_create(batch.skipped, ignore_conflicts=True)
    return fired


def fire_due(now: datetime) -> Fired:
    """Fire batches until no unclaimed due job is left."""
    total = Fired()
    size = batch_size()
    while True:
        fired = fire_due_batch(now, size)
        total.add(fired)
        if fired.jobs < size:
            return total
