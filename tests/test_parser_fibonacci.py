"""parsers/fibonacci.py through the real runner, with the demo job's params schema."""

from __future__ import annotations

import pytest

from scripts_app.errors import InvalidParams
from scripts_app.jobs.demo import demo_specs
from scripts_app.models import Status
from tests.parser_helpers import artifact, parser_job, run


@pytest.fixture
def job(db):
    spec = next(s for s in demo_specs() if s["slug"] == "fibonacci")
    return parser_job(
        "fibonacci.py", params_schema=spec["params_schema"], default_params=spec["default_params"]
    )


def test_it_returns_the_nth_fibonacci_number_as_a_string(job):
    execution = run(job, {"n": 90})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result == {"n": 90, "value": "2880067194370816120", "digits": 19}


def test_the_default_params_give_f30(job):
    execution = run(job)

    assert execution.result == {"n": 30, "value": "832040", "digits": 6}


def test_output_txt_lists_the_sequence_up_to_n(job):
    execution = run(job, {"n": 6})

    lines = artifact(execution, "output.txt").decode().splitlines()
    assert lines == [f"F({i}) = {f}" for i, f in enumerate([0, 1, 1, 2, 3, 5, 8])]


def test_the_largest_allowed_n_is_quick_and_writes_only_the_value(job):
    execution = run(job, {"n": 10000})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result["digits"] == 2090
    assert artifact(execution, "output.txt").decode().startswith("F(10000) = 33644764876")


@pytest.mark.parametrize("n", [-1, 10001, 2.5, "ten"])
def test_the_schema_rejects_a_bad_n_before_anything_runs(job, n):
    with pytest.raises(InvalidParams):
        run(job, {"n": n})
    assert not job.executions.exists()


def test_without_a_schema_the_script_itself_rejects_a_bad_n(db):
    job = parser_job("fibonacci.py", slug="fibonacci-no-schema")

    execution = run(job, {"n": -5})

    assert execution.status == Status.FAILED
    assert execution.error == "ValueError: n must be an integer from 0 to 10000, not -5"
