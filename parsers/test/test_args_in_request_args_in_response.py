"""Seed 003's first example (Scripts Manager): JSON in, JSON out.

    curl -X POST -H "Authorization: Token $TOKEN" -H "Content-Type: application/json" \
      "http://127.0.0.1:8000/api/v1/scripts/test/test_args_in_request_args_in_response.py" \
      -d '{"data": {"name": "John", "value": 42}}'
    # {"success": true, "result": {"message": "Hello, John!", "processed_value": 84}, ...}
"""


def main(data: dict) -> dict:
    name = data.get("name", "Unknown")
    value = data.get("value", 0)
    return {
        "message": f"Hello, {name}!",
        "processed_value": value * 2,
    }
