"""weather — the current weather and a short daily forecast from Open-Meteo.

Finds the city with Open-Meteo's geocoding API (or takes latitude/longitude as given),
asks /v1/forecast for the current conditions and ``days`` daily rows, returns them as
JSON and leaves ``forecast.csv`` behind.

Params:
    city                 a place name, e.g. "Moscow" (ignored when latitude/longitude are set)
    latitude, longitude  coordinates in degrees, instead of a city
    days                 forecast days, 1–16
    base_url             the forecast API, default https://api.open-meteo.com
    geocoding_url        the geocoding API, default https://geocoding-api.open-meteo.com
    timeout              seconds to wait for each server

Result: {"location": {...}, "current": {"temperature": -1.2, "conditions": "Overcast", ...},
         "forecast": [{"date": "2025-03-15", "min": -3.1, "max": 2.4, ...}], "csv": "forecast.csv"}
Without a network the run fails with one line: "network unreachable: …".
"""

from __future__ import annotations

import csv
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from scripts_app import runtime

FORECAST_URL = "https://api.open-meteo.com"
GEOCODING_URL = "https://geocoding-api.open-meteo.com"
CSV_NAME = "forecast.csv"
CURRENT = "temperature_2m,apparent_temperature,relative_humidity_2m,precipitation,weather_code,wind_speed_10m"  # noqa: E501
DAILY = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,wind_speed_10m_max"

# WMO weather interpretation codes, as documented by Open-Meteo.
WMO_CODES = {
    0: "Clear sky",
    1: "Mainly clear",
    2: "Partly cloudy",
    3: "Overcast",
    45: "Fog",
    48: "Depositing rime fog",
    51: "Light drizzle",
    53: "Moderate drizzle",
    55: "Dense drizzle",
    56: "Light freezing drizzle",
    57: "Dense freezing drizzle",
    61: "Slight rain",
    63: "Moderate rain",
    65: "Heavy rain",
    66: "Light freezing rain",
    67: "Heavy freezing rain",
    71: "Slight snowfall",
    73: "Moderate snowfall",
    75: "Heavy snowfall",
    77: "Snow grains",
    80: "Slight rain showers",
    81: "Moderate rain showers",
    82: "Violent rain showers",
    85: "Slight snow showers",
    86: "Heavy snow showers",
    95: "Thunderstorm",
    96: "Thunderstorm with slight hail",
    99: "Thunderstorm with heavy hail",
}


def conditions(code: int | None) -> str:
    return WMO_CODES.get(code, f"WMO code {code}") if code is not None else "unknown"


def get_json(base: str, path: str, query: dict, timeout: float) -> dict:
    url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"
    print(f"fetching {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "Parseq demo (weather)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        sys.exit(f"Open-Meteo answered HTTP {exc.code}: {api_reason(exc)}")
    except urllib.error.URLError as exc:
        sys.exit(f"network unreachable: {exc.reason} ({base})")
    except OSError as exc:  # timeouts and resets after the connection was made
        sys.exit(f"network unreachable: {exc} ({base})")
    except ValueError:
        sys.exit(f"Open-Meteo sent something that is not JSON ({url})")


def api_reason(exc: urllib.error.HTTPError) -> str:
    """Open-Meteo explains its 400s as {"error": true, "reason": "…"}."""
    try:
        return json.loads(exc.read())["reason"]
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)


def locate(data: dict, timeout: float) -> dict:
    if data.get("latitude") is not None and data.get("longitude") is not None:
        lat, lon = float(data["latitude"]), float(data["longitude"])
        return {"name": f"{lat:.4f},{lon:.4f}", "latitude": lat, "longitude": lon}
    city = (data.get("city") or "").strip()
    if not city:
        sys.exit("give a city, or latitude and longitude")
    found = get_json(
        data.get("geocoding_url") or GEOCODING_URL,
        "/v1/search",
        {"name": city, "count": 1, "language": "en", "format": "json"},
        timeout,
    ).get("results")
    if not found:
        sys.exit(f"city not found: {city}")
    place = found[0]
    return {
        "name": place["name"],
        "country": place.get("country"),
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "timezone": place.get("timezone"),
    }


def forecast(place: dict, days: int, base: str, timeout: float) -> dict:
    query = {
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "current": CURRENT,
        "daily": DAILY,
        "timezone": "auto",
        "forecast_days": days,
    }
    return get_json(base, "/v1/forecast", query, timeout)


def summarize(payload: dict) -> tuple[dict, list[dict]]:
    """(current conditions, one row per day) from a /v1/forecast answer."""
    now = payload["current"]
    current = {
        "time": now["time"],
        "temperature": now.get("temperature_2m"),
        "feels_like": now.get("apparent_temperature"),
        "humidity": now.get("relative_humidity_2m"),
        "precipitation": now.get("precipitation"),
        "wind_speed": now.get("wind_speed_10m"),
        "weather_code": now.get("weather_code"),
        "conditions": conditions(now.get("weather_code")),
    }
    daily = payload["daily"]
    rows = []
    for i, day in enumerate(daily["time"]):
        code = daily["weather_code"][i]
        rows.append(
            {
                "date": day,
                "min": daily["temperature_2m_min"][i],
                "max": daily["temperature_2m_max"][i],
                "precipitation": daily["precipitation_sum"][i],
                "wind_speed_max": daily["wind_speed_10m_max"][i],
                "weather_code": code,
                "conditions": conditions(code),
            }
        )
    return current, rows


def write_csv(rows: list[dict]) -> None:
    with runtime.output_path(CSV_NAME).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["date"])
        writer.writeheader()
        writer.writerows(rows)


def main(data: dict) -> dict:
    timeout = float(data.get("timeout", 30))
    days = int(data.get("days", 3))
    if not 1 <= days <= 16:
        sys.exit(f"days must be between 1 and 16, not {days}")
    place = locate(data, timeout)
    payload = forecast(place, days, data.get("base_url") or FORECAST_URL, timeout)
    current, rows = summarize(payload)
    place.setdefault("timezone", payload.get("timezone"))
    write_csv(rows)
    units = payload.get("current_units", {})
    print(
        f"{place['name']}: {current['temperature']}{units.get('temperature_2m', '')}, "
        f"{current['conditions'].lower()}; {len(rows)} forecast days"
    )
    return {
        "location": place,
        "current": current,
        "units": {"temperature": units.get("temperature_2m"), "wind": units.get("wind_speed_10m")},
        "forecast": rows,
        "csv": CSV_NAME,
    }
