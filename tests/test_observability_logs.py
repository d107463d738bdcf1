"""Structured logs: JSON lines carrying a run's execution_id and job, and a triggering
request's request_id through the Dramatiq message into the worker's lines."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
import structlog

from scripts_app.models import Execution
from scripts_app.observability import logs
from tests.deploy_helpers import ROOT
from tests.integration.stack import wait_until


def json_formatter() -> logging.Formatter:
    spec = dict(logs.logging_config("json", "INFO")["formatters"]["parseq"])
    return spec.pop("()")(**spec)


@pytest.fixture
def json_lines():
    """Every line logged while the test runs, rendered as production renders it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    structlog.contextvars.clear_contextvars()


def test_a_line_is_one_json_object_with_the_bound_run_and_extra_fields(json_lines):
    structlog.contextvars.bind_contextvars(execution_id=7, job="echo")
    logging.getLogger("scripts_app.test").warning("run %s did %s", 7, "a thing", extra={"n": 3})
    structlog.get_logger("scripts_app.test").info("structured", size=2)
    plain, structured = json_lines()
    assert plain["event"] == "run 7 did a thing"
    assert (plain["execution_id"], plain["job"], plain["n"]) == (7, "echo", 3)
    assert plain["level"] == "warning" and plain["logger"] == "scripts_app.test"
    assert plain["timestamp"].endswith("Z")
    assert (structured["event"], structured["size"], structured["job"]) == ("structured", 2, "echo")


def test_an_http_triggered_run_carries_the_requests_id_into_the_workers_lines(
    json_lines, make_job, worker, api
):
    make_job("print('only in the run log: marker-5921')\n", slug="told")
    response = api.post("/scripts/told/", {"data": {}}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    wait_until(lambda: Execution.objects.get(pk=run_id).is_final, 30, "the run to end")
    lines = json_lines()
    (queued,) = [line for line in lines if line["event"] == f"run {run_id} of told queued"]
    request_id = queued["request_id"]
    assert request_id and queued["execution_id"] == run_id and queued["job"] == "told"
    ended = [line for line in lines if line["event"].startswith(f"execution {run_id} of told")]
    assert ended and ended[0]["request_id"] == request_id  # the worker's line, same id
    assert ended[0]["execution_id"] == run_id and ended[0]["job"] == "told"
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert any(line["request_id"] == request_id for line in finished)
    assert not any("marker-5921" in json.dumps(line) for line in lines)  # the run's log only
    log = api.get(f"/api/v1/executions/{run_id}/log/", HTTP_ACCEPT="text/plain")
    assert "marker-5921" in log.content.decode()


def settings_process(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "PARSEQ_DATA_DIR": env.pop("data_dir"),
        **env,
    }
    script = f"import django, logging\ndjango.setup()\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_log_level_is_honoured_and_json_is_the_container_format(tmp_path):
    code = "log = logging.getLogger('scripts_app.x')\nlog.info('hidden')\nlog.warning('shown')"
    result = settings_process(
        code, data_dir=str(tmp_path), PARSEQ_LOG_FORMAT="json", LOG_LEVEL="warning"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["shown"]


def test_console_lines_are_for_people(tmp_path):
    result = settings_process(
        "logging.getLogger('scripts_app.x').info('hello %s', 'there')", data_dir=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "hello there" in result.stderr and not result.stderr.lstrip().startswith("{")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD' is not one of DEBUG"),
        ({"PARSEQ_LOG_FORMAT": "xml"}, "PARSEQ_LOG_FORMAT='xml' is not one of console, json"),
    ],
)
def test_a_log_setting_it_cannot_read_stops_the_process(tmp_path, env, message):
    result = settings_process("", data_dir=str(tmp_path), **env)
    assert result.returncode != 0 and message in result.stderr


def test_a_run_keeps_its_requests_id_for_a_worker_fed_from_the_database(json_lines, make_job):
    # The embedded relay of `make run` builds the worker's message from the row, so the
    # request id must come from the row, not from the web's (dropped) message.
    from scripts_app.runs import dispatch
    from scripts_app.worker import execution

    job = make_job("print('hi')\n", slug="relayed")
    structlog.contextvars.bind_contextvars(request_id="req-from-the-web-4711")
    run = dispatch.trigger(job, trigger="http", send=False)
    structlog.contextvars.clear_contextvars()  # another process: nothing bound
    assert Execution.objects.get(pk=run.pk).request_id == "req-from-the-web-4711"
    execution.execute(run.pk)
    worker_lines = [line for line in json_lines() if line.get("execution_id") == run.pk]
    assert worker_lines and all(
        line["request_id"] == "req-from-the-web-4711" for line in worker_lines
    )
