"""cbr_rates — the Central Bank of Russia's official exchange rates for chosen currencies.

Reads the daily rates XML (https://www.cbr.ru/scripts/XML_daily.asp, windows-1251) and
leaves ``rates.csv`` behind; the JSON result maps each currency to its rate in roubles
for one unit.

Params:
    currencies  ISO codes, e.g. ["USD", "EUR", "CNY"]; empty means every currency listed
    date        "YYYY-MM-DD" for a past day's rates; omitted means the latest
    base_url    the XML_daily.asp address (a mirror, or a local server in tests)
    timeout     seconds to wait for the server

Result: {"date": "2025-03-15", "rates": {"USD": 85.7448, ...}, "currencies": 3, "csv": "rates.csv"}
Without a network the run fails with one line: "network unreachable: …".
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

from scripts_app import runtime

DEFAULT_URL = "https://www.cbr.ru/scripts/XML_daily.asp"
CSV_NAME = "rates.csv"
CSV_FIELDS = ["date", "char_code", "num_code", "nominal", "name", "value", "unit_rate"]


def build_url(base_url: str, date: str | None) -> str:
    if not date:
        return base_url
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        sys.exit(f"bad date {date!r}: expected YYYY-MM-DD")
    separator = "&" if urllib.parse.urlsplit(base_url).query else "?"
    return f"{base_url}{separator}date_req={day:%d/%m/%Y}"


def fetch(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "Parseq demo (cbr_rates)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        sys.exit(f"the CBR server answered HTTP {exc.code} {exc.reason} for {url}")
    except urllib.error.URLError as exc:
        sys.exit(f"network unreachable: {exc.reason} ({url})")
    except OSError as exc:  # timeouts and resets after the connection was made
        sys.exit(f"network unreachable: {exc} ({url})")


def number(text: str | None) -> Decimal:
    """CBR numbers use a decimal comma: "92,5123"."""
    try:
        return Decimal((text or "").strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"not a number in the CBR response: {text!r}") from None


def parse(payload: bytes) -> tuple[str, list[dict]]:
    """(ISO date, one row per currency) from an XML_daily document."""
    try:
        root = ET.fromstring(payload)  # the XML declaration names the encoding
    except ET.ParseError as exc:
        sys.exit(f"the CBR response is not valid XML: {exc}")
    if root.tag != "ValCurs":
        sys.exit(f"unexpected CBR response: root element <{root.tag}>, expected <ValCurs>")
    date = dt.datetime.strptime(root.get("Date", ""), "%d.%m.%Y").date().isoformat()
    rows = []
    for valute in root.iter("Valute"):
        nominal = int(valute.findtext("Nominal", "1"))
        value = number(valute.findtext("Value"))
        unit = valute.findtext("VunitRate")
        unit_rate = number(unit) if unit else value / nominal
        rows.append(
            {
                "date": date,
                "char_code": valute.findtext("CharCode", "").strip(),
                "num_code": valute.findtext("NumCode", "").strip(),
                "nominal": nominal,
                "name": valute.findtext("Name", "").strip(),
                "value": value,
                "unit_rate": unit_rate,
            }
        )
    return date, rows


def select(rows: list[dict], currencies: list[str]) -> list[dict]:
    """The rows for ``currencies`` in the order asked; an unknown code is an error."""
    if not currencies:
        return rows
    by_code = {row["char_code"]: row for row in rows}
    wanted = [code.strip().upper() for code in currencies]
    unknown = [code for code in wanted if code not in by_code]
    if unknown:
        sys.exit(
            f"unknown currency {', '.join(unknown)}; the CBR lists {', '.join(sorted(by_code))}"
        )
    return [by_code[code] for code in dict.fromkeys(wanted)]


def write_csv(rows: list[dict]) -> None:
    with runtime.output_path(CSV_NAME).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def main(data: dict) -> dict:
    url = build_url(data.get("base_url") or DEFAULT_URL, data.get("date"))
    print(f"fetching {url}")
    date, rows = parse(fetch(url, float(data.get("timeout", 30))))
    chosen = select(rows, data.get("currencies") or [])
    write_csv(chosen)
    for row in chosen:
        print(f"{date} {row['nominal']} {row['char_code']} = {row['value']} RUB")
    return {
        "date": date,
        "rates": {row["char_code"]: float(row["unit_rate"]) for row in chosen},
        "currencies": len(chosen),
        "csv": CSV_NAME,
    }
