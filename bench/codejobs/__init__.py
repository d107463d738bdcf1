"""The host app of bench/codejob_bench.py: a no-op code job and a no-op management command."""
