"""Example: read an uploaded CSV by its key, hand back a report as a new key.

    curl -F file=@sales.csv -H "Authorization: Token $TOKEN" \
         "http://127.0.0.1:8000/api/v1/files/?prefix=uploads"
    # {"key": "uploads/3f2a….csv", "size": 1234}
    curl -H "Authorization: Token $TOKEN" -H "Content-Type: application/json" \
         -d '{"data": {"input_files": ["uploads/3f2a….csv"]}}' \
         "http://127.0.0.1:8000/api/v1/jobs/csv-stats/run/?wait=30"
    # {"result": {"rows": 2, "columns": [...], "report": "runs/7/report.json"}, ...}
    curl -OJ -H "Authorization: Token $TOKEN" \
         "http://127.0.0.1:8000/api/v1/files/runs/7/report.json"

The worker copies the keys listed in ``input_files`` into the run before it starts and
stores ``runtime.result_file(...)`` files afterwards; the script never sees storage
credentials.
"""

import csv
import json

from scripts_app import runtime


def main(data: dict) -> dict:
    keys = data.get("input_files") or []
    if not keys:
        raise ValueError('give the CSV to read as {"input_files": ["<key>"]}')
    with runtime.input_file(keys[0]).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0]) if rows else []
    totals = {}
    for column in columns:
        try:
            totals[column] = sum(float(row[column]) for row in rows)
        except ValueError:
            continue  # not a numeric column
    report = {"source": keys[0], "rows": len(rows), "columns": columns, "totals": totals}
    runtime.result_file("report.json").write_text(json.dumps(report, indent=2))
    runtime.write_output(f"{len(rows)} rows, columns: {', '.join(columns)}")
    return {"rows": len(rows), "columns": columns, "report": runtime.result_key("report.json")}
