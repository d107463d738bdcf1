"""A job's ``queue`` sends its runs to that Dramatiq queue; only workers started with
``rundramatiq --queues <name>`` run them (a dedicated pool, on any machine)."""

from __future__ import annotations

import time

import pytest

from tests.integration.stack import unique_slug, wait_until

pytestmark = pytest.mark.slow

WHERE = """
import os

def main(data):
    return {"cwd": os.getcwd()}
"""


def test_runs_of_a_heavy_job_wait_for_and_run_on_the_heavy_pool_only(stack, api):
    heavy_slug, plain_slug = unique_slug("heavy"), unique_slug("plain")
    api.create_job(heavy_slug, WHERE, queue="heavy")
    api.create_job(plain_slug, WHERE)

    heavy_run = api.trigger(heavy_slug)
    plain = api.wait_final(api.trigger(plain_slug)["id"], timeout=30)
    time.sleep(1)
    assert api.execution(heavy_run["id"])["status"] == "queued"  # the default pool ignores it
    assert stack.rabbitmq.queue_depths().get("heavy", 0) >= 1
    assert plain["result"]["cwd"].startswith(str(stack.base / "worker"))

    pool = stack.new_worker("heavy-pool", "--queues", "heavy")
    try:
        done = api.wait_final(heavy_run["id"], timeout=60)
        assert done["status"] == "succeeded", done
        assert done["result"]["cwd"].startswith(str(stack.base / "heavy-pool"))
        again = api.wait_final(api.trigger(heavy_slug)["id"], timeout=30)
        assert again["result"]["cwd"].startswith(str(stack.base / "heavy-pool"))
        wait_until(lambda: stack.rabbitmq.queue_depths().get("heavy") == 0, 10, "heavy drained")
    finally:
        pool.stop()
