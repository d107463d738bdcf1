"""Example for the README's "Morning report": a scheduled job that writes a small report.

    curl -X POST -H "Authorization: Token $TOKEN" http://127.0.0.1:8000/api/v1/jobs/ \
      -F name="Morning report" -F slug=morning-report -F script=@docs/examples/report.py \
      -F cron="30 7 * * mon-fri" -F timezone=Europe/Berlin -F misfire_policy=coalesce
"""

from datetime import UTC, datetime

from scripts_app import runtime


def main(data: dict) -> dict:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    runtime.write_output(f"morning report at {now}")
    return {"generated_at": now, "run": runtime.run_id()}
