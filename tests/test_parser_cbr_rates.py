"""parsers/cbr_rates.py against a recorded CBR XML_daily.asp response served on 127.0.0.1."""

from __future__ import annotations

import csv
import io

import pytest

from scripts_app.models import Status
from tests.parser_helpers import artifact, log_text, parser_job, run
from tests.services import free_port
from tests.services.recorded_http import Reply, serve

PATH = "/scripts/XML_daily.asp"
RECORDED = "cbr_XML_daily_2025-03-15.xml"


@pytest.fixture
def cbr():
    with serve({PATH: Reply.file(RECORDED, "application/xml; charset=windows-1251")}) as server:
        server.base_url = server.url + PATH
        yield server


@pytest.fixture
def job(db):
    return parser_job("cbr_rates.py")


def test_it_returns_unit_rates_for_the_chosen_currencies(job, cbr):
    execution = run(job, {"base_url": cbr.base_url, "currencies": ["usd", "EUR", "JPY"]})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result == {
        "date": "2025-03-15",
        "rates": {"USD": 85.7448, "EUR": 93.2197, "JPY": 0.577845},
        "currencies": 3,
        "csv": "rates.csv",
    }


def test_it_writes_a_csv_artifact_with_names_decoded_from_windows_1251(job, cbr):
    execution = run(job, {"base_url": cbr.base_url, "currencies": ["USD", "CNY"]})

    rows = list(csv.DictReader(io.StringIO(artifact(execution, "rates.csv").decode("utf-8"))))
    assert rows == [
        {
            "date": "2025-03-15",
            "char_code": "USD",
            "num_code": "840",
            "nominal": "1",
            "name": "Доллар США",
            "value": "85.7448",
            "unit_rate": "85.7448",
        },
        {
            "date": "2025-03-15",
            "char_code": "CNY",
            "num_code": "156",
            "nominal": "1",
            "name": "Китайский юань",
            "value": "11.8268",
            "unit_rate": "11.8268",
        },
    ]


def test_no_currencies_means_every_listed_currency(job, cbr):
    execution = run(job, {"base_url": cbr.base_url, "currencies": []})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.result["currencies"] == 12
    assert execution.result["rates"]["UZS"] == pytest.approx(0.00662451)


def test_a_date_param_asks_for_that_days_rates(job, cbr):
    execution = run(job, {"base_url": cbr.base_url, "date": "2025-03-15"})

    assert execution.status == Status.SUCCEEDED, execution.error
    assert cbr.requests == [(PATH, {"date_req": ["15/03/2025"]})]


def test_it_fails_with_one_line_when_the_network_is_unreachable(job):
    closed = f"http://127.0.0.1:{free_port()}{PATH}"

    execution = run(job, {"base_url": closed})

    assert execution.status == Status.FAILED
    assert execution.error.startswith("network unreachable: ")
    assert "\n" not in execution.error
    assert "Traceback" not in log_text(execution)


def test_an_unknown_currency_fails_and_lists_the_known_ones(job, cbr):
    execution = run(job, {"base_url": cbr.base_url, "currencies": ["USD", "XYZ"]})

    assert execution.status == Status.FAILED
    assert execution.error.startswith("unknown currency XYZ; the CBR lists AMD, AUD, AZN")
    assert not execution.artifacts.filter(name="rates.csv").exists()


def test_an_http_error_is_reported_with_its_status(job):
    with serve({PATH: Reply(b"<html>busy</html>", "text/html", 503)}) as server:
        execution = run(job, {"base_url": server.url + PATH})

    assert execution.status == Status.FAILED
    assert execution.error.startswith("the CBR server answered HTTP 503")


def test_a_response_that_is_not_the_rates_xml_is_a_clear_failure(job):
    with serve({PATH: Reply(b"<html><body>maintenance</body></html>", "text/html")}) as server:
        execution = run(job, {"base_url": server.url + PATH})

    assert execution.status == Status.FAILED
    assert execution.error == "unexpected CBR response: root element <html>, expected <ValCurs>"


def test_a_bad_date_is_rejected_by_the_schema_before_anything_runs(db):
    from scripts_app.errors import InvalidParams
    from scripts_app.jobs.demo import demo_specs

    spec = next(s for s in demo_specs() if s["script_path"] == "cbr_rates.py")
    job = parser_job("cbr_rates.py", slug="cbr-schema", params_schema=spec["params_schema"])

    with pytest.raises(InvalidParams):
        run(job, {"date": "15.03.2025"})
    with pytest.raises(InvalidParams):
        run(job, {"currencies": ["dollars"]})
