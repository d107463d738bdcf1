"""parsers/hello.py: main(data) → a greeting and the processed value."""

from __future__ import annotations

import pytest

from scripts_app.errors import InvalidParams
from scripts_app.jobs.demo import demo_specs
from scripts_app.models import Status
from tests.parser_helpers import artifact, log_text, parser_job, run


@pytest.fixture
def job(db):
    spec = next(s for s in demo_specs() if s["slug"] == "hello")
    return parser_job(
        "hello.py", params_schema=spec["params_schema"], default_params=spec["default_params"]
    )


def test_it_greets_and_doubles_the_value(job):
    execution = run(job, {"name": "Parseq", "value": 4})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result == {"greeting": "Hello, Parseq!", "processed": 8}
    assert artifact(execution, "output.txt") == b"Hello, Parseq!\n"
    assert "greeting Parseq" in log_text(execution)


def test_the_default_params_greet_the_world(job):
    execution = run(job)

    assert execution.result == {"greeting": "Hello, World!", "processed": 42}


def test_a_value_that_is_not_a_number_is_rejected_by_the_schema(job):
    with pytest.raises(InvalidParams):
        run(job, {"value": "twenty-one"})
    assert not job.executions.exists()
