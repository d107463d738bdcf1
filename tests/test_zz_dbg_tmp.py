from tests.test_script_versions import *  # noqa
def test_dbg(make_job):
    job = make_job(slug="echo")
    due(job, T0)
    print(scheduler.tick(T0 + timedelta(seconds=1))["fire_due"])
    reupload(job, "def main(data):\n    return 2\n")
    due(job, T0 + timedelta(minutes=5))
    print(scheduler.tick(T0 + timedelta(minutes=5, seconds=1))["fire_due"], Job.objects.values_list("next_run_at", "enabled", "overlap_policy"))
    print(scheduler.tick(T0 + timedelta(minutes=10, seconds=1))["fire_due"])
    print(list(job.executions.values_list("scheduled_for", "status", "error")))
    assert 0
