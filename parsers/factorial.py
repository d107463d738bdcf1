"""factorial — computes n! and leaves two files behind: output.txt and factorial.json.

Params: {"n": 10}
"""

import json
import math

from scripts_app import runtime


def main(data: dict) -> dict:
    n = int(data.get("n", 10))
    if n < 0:
        raise ValueError("n must be a non-negative integer")
    value = math.factorial(n)
    runtime.write_output(f"{n}! = {value}")
    runtime.output_path("factorial.json").write_text(json.dumps({"n": n, "factorial": str(value)}))
    print(f"computed {n}! ({len(str(value))} digits)")
    return {"n": n, "digits": len(str(value)), "factorial": str(value) if n <= 50 else None}
