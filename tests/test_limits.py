"""Resource limits: exceeding memory, CPU time, log size or output size fails the
run with an error that names the limit."""

import signal
import time

from django.core.files.storage import default_storage

from scripts_app.files import storage_api
from scripts_app.models import Status, Trigger
from scripts_app.runs import dispatch
from scripts_app.worker import execution, limits
from scripts_app.worker.runner.process import ProcessOutcome
from scripts_app.worker.runner.workspace import workspace
from scripts_app.worker.verdict import judge


def run_now(job):
    started = time.monotonic()
    run = execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk)
    run.elapsed = time.monotonic() - started
    return run


def test_a_run_within_its_limits_succeeds(make_job):
    job = make_job(
        "from scripts_app import runtime\n"
        "def main(data):\n"
        "    print('x' * 100)\n"
        "    runtime.output_path('a.bin').write_bytes(b'0' * 500)\n"
        "    return len(bytearray(10 * 1024 * 1024))\n",
        memory_limit_mb=256,
        cpu_time_limit=10,
        log_limit_bytes=4096,
        output_limit_bytes=1000,
    )
    run = run_now(job)
    assert run.status == Status.SUCCEEDED, run.error
    assert run.artifacts.count() == 1


def test_job_limits_fall_back_to_the_settings_and_zero_means_none(make_job, settings):
    settings.PARSEQ_MEMORY_LIMIT_MB = 512
    settings.PARSEQ_CPU_LIMIT_SECONDS = 0
    settings.PARSEQ_OUTPUT_LIMIT_BYTES = 0
    settings.PARSEQ_LOG_LIMIT_BYTES = 5000
    default = limits.for_job(make_job(slug="plain"))
    assert default == limits.Limits(
        memory_mb=512, cpu_seconds=None, log_bytes=5000, output_bytes=None
    )
    assert default.process_env() == {"PARSEQ_LIMIT_MEMORY_BYTES": str(512 * 1024 * 1024)}
    own = limits.for_job(make_job(slug="own", memory_limit_mb=64, cpu_time_limit=3))
    assert (own.memory_mb, own.cpu_seconds) == (64, 3)


def test_too_much_memory_fails_naming_the_memory_limit(make_job):
    job = make_job(
        "def main(data):\n    return len(bytearray(600 * 1024 * 1024))\n", memory_limit_mb=200
    )
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "memory limit exceeded (200 MB address space)"


def test_too_much_cpu_fails_naming_the_cpu_limit(make_job):
    job = make_job("while True:\n    pass\n", cpu_time_limit=1, timeout=30)
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "CPU time limit exceeded (1 s)"
    assert run.elapsed < 15


def test_too_much_log_stops_the_run_naming_the_log_limit(make_job):
    job = make_job(
        "import time\nprint('y' * 10000, flush=True)\ntime.sleep(60)\n",
        log_limit_bytes=2048,
        timeout=60,
    )
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "log size limit exceeded (2,048 bytes)"
    assert run.elapsed < 15  # stopped at a heartbeat, not at the timeout


def test_a_log_over_its_limit_fails_even_when_the_script_succeeds(make_job):
    job = make_job("def main(data):\n    print('z' * 5000)\n    return 1\n", log_limit_bytes=1024)
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "log size limit exceeded (1,024 bytes)"
    assert run.log_size > 1024  # the kept part and the truncation marker


def test_too_much_output_fails_and_keeps_no_files(make_job):
    job = make_job(
        "from scripts_app import runtime\n"
        "def main(data):\n"
        "    runtime.output_path('big.bin').write_bytes(b'0' * 3000)\n"
        "    runtime.output_path('small.txt').write_text('ok')\n",
        output_limit_bytes=1000,
    )
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "output size limit exceeded (1,000 bytes)"
    assert not run.artifacts.exists()


def test_output_growing_past_the_limit_stops_the_run(make_job):
    job = make_job(
        "import time\n"
        "from scripts_app import runtime\n"
        "runtime.output_path('big.bin').write_bytes(b'0' * 3000)\n"
        "time.sleep(60)\n",
        output_limit_bytes=1000,
        timeout=60,
    )
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "output size limit exceeded (1,000 bytes)"
    assert run.elapsed < 15


def test_result_files_count_towards_the_output_limit(make_job):
    job = make_job(
        "from scripts_app import runtime\n"
        "def main(data):\n"
        "    runtime.output_path('a.bin').write_bytes(b'0' * 600)\n"
        "    runtime.result_file('big.bin').write_bytes(b'0' * 600)\n"
        "    return 'done'\n",
        output_limit_bytes=1000,
    )
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "output size limit exceeded (1,000 bytes)"
    assert not run.artifacts.exists()
    assert not default_storage.exists(
        storage_api.storage_name(storage_api.result_key(run.pk, "big.bin"))
    )


def test_a_server_wide_cpu_limit_is_named_with_its_value(make_job, settings):
    settings.PARSEQ_CPU_LIMIT_SECONDS = 1
    run = run_now(make_job("while True:\n    pass\n", timeout=30))
    assert run.status == Status.FAILED
    assert run.error == "CPU time limit exceeded (1 s)"


def test_sigxcpu_without_a_cpu_limit_is_reported_as_the_signal(make_job, tmp_path):
    job = make_job()
    run = dispatch.trigger(job, trigger=Trigger.CLI, send=False)
    with workspace(tmp_path, prefix="j-") as ws:
        verdict = judge(ProcessOutcome(exit_code=-signal.SIGXCPU), ws, run)
    assert verdict.error == "killed by SIGXCPU"
