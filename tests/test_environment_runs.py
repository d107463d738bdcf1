"""A script that declares dependencies runs in its own environment: only what it declares
(and Parseq's runtime) importable, its exact lock every time, a warm fork server per
recently used environment."""

from __future__ import annotations

import os
import time

import pytest
from django.test import override_settings

from scripts_app.jobs import versions
from scripts_app.models import Artifact, Status, Trigger
from scripts_app.runs import control, dispatch, logs
from scripts_app.worker import environments, execution
from scripts_app.worker.runner import pool, zygote
from tests.conftest import execute_concurrently, script_file
from tests.package_index import pep723

VERSION = "import tinypkg\n\ndef main(data):\n    return tinypkg.__version__\n"


def run(job, **kwargs):
    return execution.execute(dispatch.trigger(job, trigger=Trigger.CLI, send=False, **kwargs).pk)


def first_line(execution_) -> str:
    return logs.read_log(execution_)[0].decode().splitlines()[0]


@pytest.mark.parametrize("module", ["django", "boto3", "psycopg2", "scripts_app.models"])
def test_a_script_with_its_own_environment_cannot_import_what_it_did_not_declare(
    make_job, offline_packages, module
):
    job = make_job(pep723(body=f"import {module}\n"), slug="undeclared")

    ended = run(job)

    assert ended.status == Status.FAILED
    assert ended.error == f"ModuleNotFoundError: No module named '{module}'"
    assert first_line(ended).startswith("[parseq] environment ")


def test_the_worker_s_interpreter_still_serves_scripts_that_declare_nothing(make_job):
    ended = run(make_job("import django\n\ndef main(data):\n    return django.__name__\n"))
    assert (ended.status, ended.result) == (Status.SUCCEEDED, "django")


RUNTIME_PROBE = """
import sys
import tinypkg
import scripts_app
from scripts_app import runtime

def main(data):
    runtime.write_output("hello from " + tinypkg.__version__)
    return {
        "params": runtime.params(),
        "prefix": sys.prefix,
        "package": scripts_app.__file__,
        "path": sys.path,
    }
"""


def test_the_runtime_module_is_importable_in_every_environment_and_nothing_else_of_parseq(
    make_job, offline_packages, settings
):
    job = make_job(pep723("tinypkg", body=RUNTIME_PROBE), slug="probe", default_params={"a": 1})

    ended = run(job)

    assert ended.status == Status.SUCCEEDED, ended.error
    result, cache = ended.result, str(settings.PARSEQ_ENV_CACHE)
    assert result["params"] == {"a": 1}
    assert result["prefix"].startswith(cache) and result["package"].startswith(result["prefix"])
    project = str(versions.__file__).rsplit("/scripts_app/", 1)[0]
    assert not [entry for entry in result["path"] if entry.startswith(project)]
    assert not [
        entry for entry in result["path"] if "site-packages" in entry and cache not in entry
    ]
    output = Artifact.objects.get(execution=ended, name="output.txt")
    assert output.file.read() == b"hello from 2.0\n"


def test_two_scripts_pinning_different_versions_run_side_by_side(
    make_job, offline_packages, transactional_db
):
    old = make_job(pep723("tinypkg==1.0", body=VERSION), slug="old")
    new = make_job(pep723("tinypkg==2.0", body=VERSION), slug="new")
    pending = [dispatch.trigger(job, trigger=Trigger.CLI, send=False).pk for job in (old, new)]
    ended = execute_concurrently(pending, timeout=60)

    results = [(ended[pk].status, ended[pk].result) for pk in pending]
    assert results == [(Status.SUCCEEDED, "1.0"), (Status.SUCCEEDED, "2.0")]
    locks = {ended[pk].script_version.lock_sha256 for pk in pending}
    assert len(locks) == 2
    assert len(environments.worker_cache().entries()) == 2


def test_a_run_logs_first_whether_its_environment_was_built_or_cached(make_job, offline_packages):
    job = make_job(pep723("tinydep", body="print('the script speaks')\n"), slug="lines")

    built, cached = run(job), run(job)

    assert [built.status, cached.status] == [Status.SUCCEEDED, Status.SUCCEEDED]
    short = built.script_version.lock_sha256[:12]
    assert first_line(built).startswith(f"[parseq] environment {short}: built in ")
    assert first_line(built).endswith(" s (2 packages)")
    assert first_line(cached).startswith(f"[parseq] environment {short}: cached (")
    assert logs.read_log(cached)[0].decode().splitlines()[1:] == ["the script speaks"]


def test_a_re_run_of_an_old_execution_uses_its_old_lock(make_job, offline_packages, api):
    job = make_job(pep723("tinypkg==1.0", body=VERSION), slug="moving")
    before = run(job)
    upload = script_file(pep723("tinypkg==2.0", body=VERSION), "moving-v2.py")
    changed = api.patch("/api/v1/jobs/moving/", {"script": upload}, format="multipart")
    assert changed.status_code == 200, changed.json()
    job.refresh_from_db()
    after = run(job)

    again = execution.execute(control.rerun(before, trigger=Trigger.API).pk)

    assert [before.result, after.result, again.result] == ["1.0", "2.0", "1.0"]
    assert again.script_version_id == before.script_version_id != after.script_version_id
    assert again.script_version.lock == before.script_version.lock


def test_a_failed_build_fails_the_run_with_uv_s_error_and_the_next_run_tries_again(
    make_job, offline_packages, tmp_path
):
    job = make_job(pep723("tinypkg==1.0", body=VERSION), slug="flaky")
    versions.current_version(job)  # locked while the wheel was there
    (tmp_path / "empty").mkdir()
    with override_settings(PARSEQ_PIP_FIND_LINKS=[str(tmp_path / "empty")]):
        environments.forget_caches()
        failed = run(job)
    environments.forget_caches()
    retried = run(job)

    assert failed.status == Status.FAILED
    assert failed.error.startswith("could not build the script's environment: ")
    assert "tinypkg" in failed.error
    log = logs.read_log(failed)[0].decode()
    assert log.startswith("[parseq] environment ") and "build failed after" in log
    assert "tinypkg" in log
    assert (retried.status, retried.result) == (Status.SUCCEEDED, "1.0")
    assert " built in " in first_line(retried)


def wait_until(check, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


PARENT = "import os\n\ndef main(data):\n    return os.getppid()\n"


class TestWarmStarts:
    @pytest.fixture(autouse=True)
    def fork_servers(self, unsandboxed):  # parent pids as this process sees them
        pool.POOL.configure(size=1, idle_seconds=600)
        zygote.enable()
        yield pool.POOL
        zygote.disable()
        pool.POOL.configure(size=4, idle_seconds=600)

    def test_a_warm_fork_server_starts_the_runs_of_a_recently_used_environment(
        self, make_job, offline_packages, fork_servers
    ):
        job = make_job(pep723("tinypkg", body=PARENT), slug="warm")
        first = run(job)  # spawned: no server for this environment yet, one is started
        assert first.result == os.getpid()
        wait_until(lambda: any(s.running() for s in fork_servers.servers().values()))

        second = run(job)

        (server,) = fork_servers.servers().values()
        assert second.result == server.process.pid
        assert server.interpreter.startswith(str(environments.worker_cache().root))
        assert environments.worker_cache().in_use(environments.worker_cache().entries()[0])

    def test_the_pool_is_bounded_and_retires_idle_servers(
        self, make_job, offline_packages, fork_servers
    ):
        one = make_job(pep723("tinypkg==1.0", body=PARENT), slug="one")
        two = make_job(pep723("tinypkg==2.0", body=PARENT), slug="two")
        run(one)
        wait_until(lambda: any(s.running() for s in fork_servers.servers().values()))
        (first_server,) = fork_servers.servers().values()

        run(two)  # the pool holds one: the idle server of "one" makes room

        wait_until(lambda: any(s.running() for s in fork_servers.servers().values()))
        (second_server,) = fork_servers.servers().values()
        assert second_server is not first_server and not first_server.running()
        fork_servers.idle_seconds = 0
        assert fork_servers.retire_idle() == 1
        assert not fork_servers.servers() and not second_server.running()
        cache = environments.worker_cache()
        assert not [entry for entry in cache.entries() if cache.in_use(entry)]
