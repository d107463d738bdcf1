"""hello — the smallest Parseq job: greets someone and processes a value.

Params: {"name": "World", "value": 21}  →  result {"greeting": "Hello, World!", "processed": 42}
"""

from scripts_app import runtime


def main(data: dict) -> dict:
    name = data.get("name", "World")
    value = data.get("value", 21)
    print(f"greeting {name}")
    runtime.write_output(f"Hello, {name}!")
    return {
        "greeting": f"Hello, {name}!",
        "processed": value * 2 if isinstance(value, (int, float)) else value,
    }
