"""fibonacci — the n-th Fibonacci number, and the sequence up to it in output.txt.

Params: {"n": 50} (0 ≤ n ≤ 10000)  →  result {"n": 50, "value": "12586269025", "digits": 11}

The value is a string: big integers do not survive JSON readers that use doubles.
output.txt gets F(0)…F(n), one per line, for n up to 1000 (only F(n) beyond that).
"""

from scripts_app import runtime

SEQUENCE_LIMIT = 1000
MAX_N = 10000  # F(10000) has 2090 digits; keeps runs quick and within int→str limits


def fibonacci(n: int) -> list[int]:
    """[F(0), F(1), …, F(n)]."""
    sequence = [0, 1]
    while len(sequence) <= n:
        sequence.append(sequence[-1] + sequence[-2])
    return sequence[: n + 1]


def main(data: dict) -> dict:
    n = data.get("n", 10)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_N:
        raise ValueError(f"n must be an integer from 0 to {MAX_N}, not {n!r}")
    sequence = fibonacci(n)
    value = sequence[n]
    if n <= SEQUENCE_LIMIT:
        runtime.write_output("\n".join(f"F({i}) = {item}" for i, item in enumerate(sequence)))
    else:
        runtime.write_output(f"F({n}) = {value}")
    print(f"F({n}) has {len(str(value))} digits")
    return {"n": n, "value": str(value), "digits": len(str(value))}
