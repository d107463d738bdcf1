"""parsers/weather.py against recorded Open-Meteo responses served on 127.0.0.1."""

from __future__ import annotations

import csv
import io

import pytest

from scripts_app.models import Status
from tests.parser_helpers import artifact, log_text, parser_job, run
from tests.services import free_port
from tests.services.recorded_http import Reply, serve

JSON = "application/json; charset=utf-8"
MOSCOW = {
    "/v1/search": Reply.file("open_meteo_geocoding_moscow.json", JSON),
    "/v1/forecast": Reply.file("open_meteo_forecast_moscow.json", JSON),
}


@pytest.fixture
def open_meteo():
    with serve(MOSCOW) as server:
        yield server


@pytest.fixture
def job(db):
    return parser_job("weather.py")


def params(server, **extra) -> dict:
    return {"base_url": server.url, "geocoding_url": server.url, **extra}


def test_it_finds_the_city_and_returns_current_weather_and_forecast(job, open_meteo):
    execution = run(job, params(open_meteo, city="Moscow"))

    assert execution.status == Status.SUCCEEDED, execution.error
    result = execution.result
    assert result["location"] == {
        "name": "Moscow",
        "country": "Russia",
        "latitude": 55.75222,
        "longitude": 37.61556,
        "timezone": "Europe/Moscow",
    }
    assert result["current"] == {
        "time": "2025-03-15T12:00",
        "temperature": 1.8,
        "feels_like": -2.6,
        "humidity": 81,
        "precipitation": 0.0,
        "wind_speed": 14.4,
        "weather_code": 3,
        "conditions": "Overcast",
    }
    assert result["units"] == {"temperature": "°C", "wind": "km/h"}
    assert [day["date"] for day in result["forecast"]] == ["2025-03-15", "2025-03-16", "2025-03-17"]
    assert result["forecast"][1]["conditions"] == "Slight snowfall"


def test_it_asks_open_meteo_for_the_geocoded_place_and_the_requested_days(job, open_meteo):
    run(job, params(open_meteo, city="Moscow", days=3))

    (search_path, search), (forecast_path, query) = open_meteo.requests
    assert (search_path, search["name"]) == ("/v1/search", ["Moscow"])
    assert forecast_path == "/v1/forecast"
    assert (query["latitude"], query["longitude"]) == (["55.75222"], ["37.61556"])
    assert query["forecast_days"] == ["3"]
    assert "temperature_2m" in query["current"][0].split(",")
    assert "temperature_2m_max" in query["daily"][0].split(",")


def test_it_writes_the_forecast_as_a_csv_artifact(job, open_meteo):
    execution = run(job, params(open_meteo, city="Moscow"))

    rows = list(csv.DictReader(io.StringIO(artifact(execution, "forecast.csv").decode("utf-8"))))
    assert rows[0] == {
        "date": "2025-03-15",
        "min": "-3.1",
        "max": "2.4",
        "precipitation": "0.0",
        "wind_speed_max": "16.2",
        "weather_code": "3",
        "conditions": "Overcast",
    }
    assert len(rows) == 3


def test_coordinates_skip_the_geocoding(job, open_meteo):
    execution = run(job, params(open_meteo, latitude=55.75, longitude=37.62))

    assert execution.status == Status.SUCCEEDED, execution.error
    assert [path for path, _ in open_meteo.requests] == ["/v1/forecast"]
    assert execution.result["location"]["timezone"] == "Europe/Moscow"


def test_it_fails_with_one_line_when_the_network_is_unreachable(job):
    closed = f"http://127.0.0.1:{free_port()}"

    execution = run(job, {"city": "Moscow", "base_url": closed, "geocoding_url": closed})

    assert execution.status == Status.FAILED
    assert execution.error.startswith("network unreachable: ")
    assert "\n" not in execution.error
    assert "Traceback" not in log_text(execution)


def test_an_unknown_city_is_a_clear_failure(job):
    routes = {"/v1/search": Reply.file("open_meteo_geocoding_not_found.json", JSON)}
    with serve(routes) as server:
        execution = run(job, params(server, city="Atlantis"))

    assert execution.status == Status.FAILED
    assert execution.error == "city not found: Atlantis"
    assert [path for path, _ in server.requests] == ["/v1/search"]


def test_open_meteos_reason_for_a_400_becomes_the_error(job):
    routes = {"/v1/forecast": Reply.file("open_meteo_forecast_error_400.json", JSON, 400)}
    with serve(routes) as server:
        execution = run(job, params(server, latitude=123, longitude=37.6))

    assert execution.status == Status.FAILED
    assert execution.error == (
        "Open-Meteo answered HTTP 400: Latitude must be in range of -90 to 90°. Given: 123.0."
    )


def test_the_schema_rejects_out_of_range_days_before_anything_runs(db):
    from scripts_app.errors import InvalidParams
    from scripts_app.jobs.demo import demo_specs

    spec = next(s for s in demo_specs() if s["script_path"] == "weather.py")
    job = parser_job("weather.py", slug="weather-schema", params_schema=spec["params_schema"])

    with pytest.raises(InvalidParams):
        run(job, {"city": "Moscow", "days": 30})
    with pytest.raises(InvalidParams):
        run(job, {"latitude": 91, "longitude": 0})
