"""A host app with code jobs (tests/test_code_jobs*.py): one model, and ``jobs.py``."""
