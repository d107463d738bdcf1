import time

from scripts_app import job


@job(slug="code-noop", timeout=60)
def noop(data):
    return {"started": time.time()}  # the job's first line: when its code started
