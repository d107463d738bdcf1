"""Faults on the real services: no run is lost, none stays running, none runs twice.

Each script appends its pid to a counter file (``COUNTER_DIR/<slug>``), so
"exactly once" is checked on the processes that really ran, not only on rows.
"""

from __future__ import annotations

import os
import signal
import time

import pika
import pytest
from dramatiq.message import Message

from tests.integration.conftest import HEARTBEAT_SECONDS, SHUTDOWN_GRACE
from tests.integration.stack import pid_alive, unique_slug, wait_until
from tests.services.rabbitmq import CONSUMER_TIMEOUT_MS

pytestmark = pytest.mark.slow

COUNTED = """
import os, pathlib, time

def main(data):
    counter = pathlib.Path(os.environ["COUNTER_DIR"]) / os.environ["PARSEQ_JOB"]
    with counter.open("a") as fh:
        fh.write(f"{os.getpid()}\\n")
    attempt = len(counter.read_text().split())
    if attempt <= data.get("slow_attempts", 1):
        time.sleep(data.get("sleep", 0))
    if data.get("artifact"):
        out = pathlib.Path(os.environ["PARSEQ_OUTPUT_DIR"]) / "out.txt"
        out.write_text(data["artifact"])
    if data.get("say"):
        print(data["say"])
    return {"attempt": attempt}
"""


def counted_job(stack, api, prefix: str, **fields) -> str:
    slug = unique_slug(prefix)
    api.create_job(slug, COUNTED, env={"COUNTER_DIR": str(stack.counters)}, **fields)
    return slug


def pids(stack, slug: str) -> list[int]:
    path = stack.counters / slug
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_a_sigkilled_worker_run_fails_as_worker_lost_its_script_dies_and_it_is_retried_once(
    stack, api
):
    slug = counted_job(stack, api, "killed", max_retries=1, retry_backoff=1)
    first = api.trigger(slug, {"sleep": 120})
    api.wait_status(first["id"], "running", timeout=30)
    script_pid = wait_until(lambda: pids(stack, slug), 15, "the script to start")[0]

    stack.worker.kill_hard()
    killed_at = time.monotonic()

    wait_until(lambda: not pid_alive(script_pid), 5, "the orphaned script to die")
    lost = api.wait_status(first["id"], "failed", timeout=HEARTBEAT_SECONDS * 5 + 10)
    assert "worker lost" in lost["error"]
    assert time.monotonic() - killed_at < HEARTBEAT_SECONDS * 5 + 10

    stack.restart_worker()
    retry = wait_until(
        lambda: [e for e in api.executions(slug) if e["id"] != first["id"]], 30, "the retry"
    )[0]
    retry = api.wait_final(retry["id"], timeout=60)
    assert (retry["status"], retry["attempt"], retry["retry_of"]) == ("succeeded", 2, first["id"])
    time.sleep(2)
    assert len(api.executions(slug)) == 2  # exactly one retry
    assert len(pids(stack, slug)) == 2


def test_triggers_during_a_rabbitmq_outage_are_accepted_and_each_runs_once_after(stack, api):
    slug = counted_job(stack, api, "outage")
    stack.rabbitmq.stop_app()
    try:
        started = [api.trigger(slug, {"n": n}) for n in range(3)]  # 202 while the broker is down
        time.sleep(3)  # the scheduler's re-sends fail meanwhile
        assert {api.execution(s["id"])["status"] for s in started} == {"queued"}
        assert pids(stack, slug) == []
    finally:
        stack.rabbitmq.start_app()

    runs = [api.wait_final(s["id"], timeout=90) for s in started]

    assert {r["status"] for r in runs} == {"succeeded"}
    time.sleep(3)  # late duplicates of the re-sends would show up now
    assert len(pids(stack, slug)) == 3
    assert len(api.executions(slug)) == 3


def test_the_same_message_delivered_twice_starts_one_run(stack, api):
    slug = counted_job(stack, api, "dupe")
    started = api.trigger(slug, {"sleep": 1})
    body = Message(
        queue_name="default",
        actor_name="run_execution",
        args=(started["id"],),
        kwargs={},
        options={},
    ).encode()
    connection = pika.BlockingConnection(pika.URLParameters(stack.rabbitmq.url))
    try:
        channel = connection.channel()
        for _ in range(2):
            channel.basic_publish("", "default", body, pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()

    run = api.wait_final(started["id"], timeout=30)
    wait_until(lambda: stack.rabbitmq.queue_depths().get("default") == 0, 30, "the queue to drain")
    time.sleep(1)

    assert run["status"] == "succeeded"
    assert len(pids(stack, slug)) == 1
    assert len(api.executions(slug)) == 1


def test_a_run_longer_than_the_consumer_timeout_runs_once_and_succeeds(stack, api):
    slug = counted_job(stack, api, "long")
    sleep = CONSUMER_TIMEOUT_MS / 1000 + 4  # RabbitMQ closes the channel and redelivers

    run = api.wait_final(api.trigger(slug, {"sleep": sleep})["id"], timeout=sleep + 30)

    assert run["status"] == "succeeded", run
    time.sleep(2)
    assert len(pids(stack, slug)) == 1
    assert len(api.executions(slug)) == 1
    assert stack.worker.alive()


def test_a_postgresql_restart_during_a_run_still_records_its_end_and_the_worker_survives(
    stack, api
):
    slug = counted_job(stack, api, "pgrestart")
    started = api.trigger(slug, {"sleep": 4})
    api.wait_status(started["id"], "running", timeout=30)

    stack.postgres.restart()

    run = api.wait_final(started["id"], timeout=60)
    assert run["status"] == "succeeded", run
    assert stack.worker.alive()
    after = api.wait_final(api.trigger(slug)["id"], timeout=30)
    assert after["status"] == "succeeded"


def test_sigterm_lets_short_runs_finish_stops_long_ones_after_the_grace_and_takes_no_more(
    stack, api
):
    slug = counted_job(stack, api, "sigterm")
    short = api.trigger(slug, {"sleep": 1.5, "slow_attempts": 99})
    long = api.trigger(slug, {"sleep": 120, "slow_attempts": 99})
    for started in (short, long):
        api.wait_status(started["id"], "running", timeout=30)

    stack.worker.signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    wait_until(lambda: "worker stopping" in stack.worker.log(), 10, "the worker to wind down")
    late = api.trigger(slug)

    assert api.wait_final(short["id"], timeout=15)["status"] == "succeeded"
    ended = api.wait_final(long["id"], timeout=SHUTDOWN_GRACE + 15)
    assert ended["status"] == "failed"
    assert "worker shut down" in ended["error"] and f"{SHUTDOWN_GRACE} s" in ended["error"]
    assert time.monotonic() - stopped_at >= SHUTDOWN_GRACE - 0.5
    wait_until(lambda: not stack.worker.alive(), 30, "the worker to exit")
    assert not any(pid_alive(pid) for pid in pids(stack, slug))
    assert api.execution(late["id"])["status"] == "queued"

    stack.restart_worker()
    assert api.wait_final(late["id"], timeout=60)["status"] == "succeeded"


def test_outputs_are_spooled_while_s3_is_unreachable_and_stored_once_it_is_back(stack, api):
    slug = counted_job(stack, api, "s3down")
    started = api.trigger(slug, {"sleep": 2, "artifact": "kept safe", "say": "spooled log"})
    wait_until(lambda: pids(stack, slug), 30, "the script to start")

    os.kill(stack.s3.process.pid, signal.SIGSTOP)  # the endpoint stops answering
    try:
        run = api.wait_final(started["id"], timeout=60)
        assert run["status"] == "succeeded", run
        assert run["result"] == {"attempt": 1}
        assert "outputs not stored yet" in run["error"] and "kept in" in run["error"]
        assert run["artifacts"] == []
    finally:
        os.kill(stack.s3.process.pid, signal.SIGCONT)

    stored = wait_until(
        lambda: (e := api.execution(started["id"]))["artifacts"] and e, 60, "the spooled upload"
    )
    assert stored["error"] == ""
    assert [a["name"] for a in stored["artifacts"]] == ["out.txt"]
    download = api.get(f"/api/v1/executions/{started['id']}/artifacts/out.txt")
    assert download.content == b"kept safe"
    # The log went through the spool too: stored now, whole.
    assert stored["log_size"] == len(b"spooled log\n")
    log = api.get(f"/api/v1/executions/{started['id']}/log/", headers={"Accept": "text/plain"})
    assert log.content == b"spooled log\n"
