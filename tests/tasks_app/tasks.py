"""Tasks the tests enqueue with ``ParseqBackend`` (tests/settings.py ``TASKS``)."""

from __future__ import annotations

import asyncio

from scripts_app.task_api import task


class TaskFailed(Exception):
    """A task's own exception: get_result names it by its import path."""


@task
def add(a: int, b: int = 0) -> int:
    return a + b


@task
def explode(why: str) -> None:
    _explode(why)


def _explode(why: str) -> None:
    raise TaskFailed(f"no good: {why}")


@task(takes_context=True)
def who_am_i(context, tag: str = "") -> dict:
    return {"id": context.task_result.id, "attempt": context.attempt, "tag": tag}


@task
def returns_a_set() -> set:
    return {1, 2}


@task(queue_name="heavy", priority=10)
def crunch(n: int) -> list:
    return list(range(n))


@task
async def add_later(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


@task
def greet() -> str:
    return "hello"


@task
def nothing() -> None:
    return None
