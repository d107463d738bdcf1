"""parsers/factorial.py: n! in the result, output.txt and factorial.json."""

from __future__ import annotations

import json

import pytest

from scripts_app.errors import InvalidParams
from scripts_app.jobs.demo import demo_specs
from scripts_app.models import Status
from tests.parser_helpers import artifact, parser_job, run


@pytest.fixture
def job(db):
    spec = next(s for s in demo_specs() if s["slug"] == "factorial")
    return parser_job(
        "factorial.py", params_schema=spec["params_schema"], default_params=spec["default_params"]
    )


def test_it_computes_n_factorial_and_writes_two_files(job):
    execution = run(job, {"n": 20})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result == {"n": 20, "digits": 19, "factorial": "2432902008176640000"}
    assert artifact(execution, "output.txt") == b"20! = 2432902008176640000\n"
    assert json.loads(artifact(execution, "factorial.json")) == {
        "n": 20,
        "factorial": "2432902008176640000",
    }


def test_the_largest_allowed_n_keeps_the_value_out_of_the_result_but_in_the_files(job):
    execution = run(job, {"n": 5000})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result == {"n": 5000, "digits": 16326, "factorial": None}
    assert len(json.loads(artifact(execution, "factorial.json"))["factorial"]) == 16326


def test_a_negative_n_is_rejected_by_the_schema(job):
    with pytest.raises(InvalidParams):
        run(job, {"n": -1})


def test_without_a_schema_the_script_itself_rejects_a_negative_n(db):
    job = parser_job("factorial.py", slug="factorial-no-schema")

    execution = run(job, {"n": -1})

    assert execution.status == Status.FAILED
    assert execution.error == "ValueError: n must be a non-negative integer"
