"""factorial — computes n! and leaves two files behind: output.txt and factorial.json.

Params: {"n": 10}  →  result {"n": 10, "digits": 7, "factorial": "3628800"}

The value is a string (big integers do not survive JSON readers that use doubles),
and only up to n = 50 in the result; the files always hold it in full.
"""

import json
import math
import sys

from scripts_app import runtime

# n ≤ 5000 gives up to 16,326 digits: more than Python's default int→str limit (4,300).
sys.set_int_max_str_digits(0)


def main(data: dict) -> dict:
    n = int(data.get("n", 10))
    if n < 0:
        raise ValueError("n must be a non-negative integer")
    value = str(math.factorial(n))
    runtime.write_output(f"{n}! = {value}")
    runtime.output_path("factorial.json").write_text(json.dumps({"n": n, "factorial": value}))
    print(f"computed {n}! ({len(value)} digits)")
    return {"n": n, "digits": len(value), "factorial": value if n <= 50 else None}
