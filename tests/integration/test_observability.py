"""Operating the production-like stack: JSON log lines from gunicorn, the worker and the
scheduler; one request id following an HTTP-triggered run from web to worker (through
RabbitMQ); /metrics and the worker's Dramatiq metrics scraped over HTTP after real runs."""

from __future__ import annotations

import json
import re

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import METRICS_TOKEN
from tests.integration.stack import unique_slug, wait_until

pytestmark = pytest.mark.slow

DRAMATIQ_SUPERVISOR = re.compile(
    r"\[dramatiq\.(MainProcess|ForkProcess\(\d+\))\]|^ \* Running dramatiq"
)
SCRIPT = "def main(data):\n    print('script output: secret-ish 7731')\n    return data\n"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


@pytest.fixture(scope="module")
def triggered(stack):
    """Two runs triggered over HTTP, finished."""
    slug = unique_slug("observed")
    stack.api.create_job(slug, SCRIPT)
    runs = [stack.api.trigger(slug, {"n": n}) for n in (1, 2)]
    for started in runs:
        assert stack.api.wait_final(started["id"], timeout=60)["status"] == "succeeded"
    return slug, [run["id"] for run in runs]


def test_web_worker_and_scheduler_each_write_json_lines(stack, api, triggered):
    for service in (stack.web, stack.worker, stack.scheduler):
        lines = json_lines(service.log())
        assert lines, f"{service.name} wrote no JSON line"
        assert all({"event", "level", "logger", "timestamp"} <= set(line) for line in lines)
    web_text = [line for line in stack.web.log().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in web_text), web_text[:5]  # gunicorn's too
    # Only the dramatiq command's own supervisor (not Parseq code) writes its few plain lines.
    plain = [line for line in stack.worker.log().splitlines() if line and line[0] != "{"]
    assert all(DRAMATIQ_SUPERVISOR.search(line) for line in plain), plain[:5]
    loggers = {line["logger"] for line in json_lines(stack.scheduler.log())}
    assert "scripts_app.scheduler" in loggers


def test_one_request_id_finds_a_runs_whole_story_across_processes(stack, api, triggered):
    slug, (run_id, _) = triggered
    (queued,) = [
        line
        for line in json_lines(stack.web.log())
        if line.get("execution_id") == run_id and line["event"].endswith("queued")
    ]
    request_id = queued["request_id"]
    assert queued["job"] == slug and queued["trigger"] == "http"
    web_story = [
        line for line in json_lines(stack.web.log()) if line.get("request_id") == request_id
    ]
    assert {f"run {run_id} of {slug} queued", "request_finished"} <= {
        line["event"] for line in web_story
    }
    worker_story = [
        line for line in json_lines(stack.worker.log()) if line.get("request_id") == request_id
    ]
    assert worker_story, "the worker's lines lost the request id"
    assert all(line["execution_id"] == run_id for line in worker_story)
    assert any(
        line.get("job") == slug and "ended succeeded" in line["event"] for line in worker_story
    )
    assert "secret-ish 7731" not in stack.worker.log()  # script output stays in the run log


def test_metrics_are_scraped_and_parsed_after_real_runs(stack, api, triggered):
    slug, _ = triggered
    response = requests.get(
        api.url("/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    found = samples(response.text)
    assert found[("parseq_runs_finished_total", ("job", slug), ("status", "succeeded"))] == 2
    assert found[("parseq_run_duration_seconds_count", ("job", slug))] == 2
    assert ("parseq_runs_queued", ("queue", "default")) in found
    beats = [key for key in found if key[0] == "parseq_worker_heartbeat_timestamp_seconds"]
    assert {dict(key[1:])["process"] for key in beats} >= {"worker", "scheduler"}


def test_the_worker_serves_dramatiqs_metrics_on_its_own_port(stack, api, triggered):
    port = stack.worker.env["PARSEQ_WORKER_METRICS_PORT"]

    def scraped():
        try:
            return requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
        except requests.ConnectionError:
            return ""

    found = samples(wait_until(scraped, 30, "the worker's metrics server"))
    processed = {k: v for k, v in found.items() if k[0] == "dramatiq_messages_total"}
    labels = {dict(k[1:])["actor_name"]: v for k, v in processed.items()}
    assert labels.get("run_execution", 0) >= 2


def test_readyz_and_the_workers_healthcheck_answer_on_the_stack(stack, api, triggered):
    ready = requests.get(api.url("/readyz"), timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "ok"
    out = stack.manage(
        "healthcheck", "--worker", env={"PARSEQ_DATA_DIR": stack.worker.env["PARSEQ_DATA_DIR"]}
    )
    assert "worker process(es) on" in out
