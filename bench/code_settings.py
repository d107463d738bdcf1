"""Settings of bench/codejob_bench.py: Parseq's own, plus a host app with a code job."""

from parseq.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.codejobs"]  # noqa: F405
