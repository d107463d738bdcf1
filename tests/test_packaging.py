"""django-parseq as a distribution: what the wheel holds, and a Django project that is
not Parseq running a job with nothing but the wheel, its settings and a worker."""

from __future__ import annotations

import json
import re
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement

from tests.host_project import ROOT, HostProject, build_wheel, make_virtualenv


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version
    return found


def test_every_declared_dependency_admits_the_version_requirements_txt_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = pins()
    declared = [Requirement(text) for text in project["dependencies"]]
    declared += [Requirement(t) for ts in project["optional-dependencies"].values() for t in ts]
    for requirement in declared:
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is declared but not pinned in requirements.txt"
        assert requirement.specifier.contains(pinned[name]), (requirement, pinned[name])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_the_app_its_templates_static_and_migrations_and_not_the_project(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "scripts_app/apps.py" in names
    assert "scripts_app/migrations/0001_initial.py" in names
    assert "scripts_app/templates/scripts_app/admin/dashboard.html" in names
    assert "scripts_app/static/scripts_app/admin.css" in names
    assert "scripts_app/management/commands/runjob.py" in names
    assert not [name for name in names if name.startswith(("parseq/", "tests/", "parsers/"))]


@pytest.fixture(scope="module")
def host(wheel, tmp_path_factory):
    python = make_virtualenv(tmp_path_factory.mktemp("venv") / "venv", wheel)
    project = HostProject(tmp_path_factory.mktemp("host"), python)
    project.manage("makemigrations", "inventory")
    project.manage("migrate", "--no-input")
    yield project
    project.stop()


def test_the_host_project_imports_the_app_from_the_wheel_not_the_checkout(host):
    where = host.manage(
        "shell", "--no-imports", "-c", "import scripts_app; print(scripts_app.__file__)"
    )
    location = where.stdout.strip().splitlines()[-1]
    assert location.startswith(str(host.python.parent.parent)), location
    assert "site-packages" in location


def test_a_host_project_passes_the_checks_and_gets_parseqs_settings(host):
    host.manage("check")
    shown = (
        host.manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.PARSEQ_QUEUES, "
            "settings.DRAMATIQ_BROKER['BROKER'], settings.PARSEQ_WORK_DIR)",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert shown.startswith("['default'] scripts_app.broker.LocalBroker ")
    assert shown.endswith(str(host.root / "var" / "runs"))


def test_a_host_project_runs_a_job_end_to_end_on_a_worker(host):
    host.manage(
        "shell",
        "--no-imports",
        "-c",
        "from scripts_app.jobs.saving import save_job; from scripts_app.models import Job; "
        "save_job(lambda: Job.objects.create(name='Double', slug='double', "
        "script_path='double.py'))",
    )
    host.start_worker()
    run = host.manage("double", "--enqueue", "--params", '{"n": 21}', check=False, timeout=90)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{host.worker_log()}"
    assert json.loads(run.stdout) == {"doubled": 42}


def test_a_host_projects_code_job_writes_its_own_model_on_the_worker(host):
    listed = host.manage("syncjobs").stdout  # migrate synced it already: nothing to do
    assert "0 created" in listed, listed
    host.start_worker()
    run = host.manage("count-item", "--enqueue", "--params", '{"name": "bolt"}', check=False)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{host.worker_log()}"
    assert json.loads(run.stdout) == {"name": "bolt", "count": 1}
    counted = host.manage(
        "shell",
        "--no-imports",
        "-c",
        "from inventory.models import Item; print(Item.objects.get(name='bolt').count)",
    )
    assert counted.stdout.strip().splitlines()[-1] == "1"


def test_a_hand_written_broker_setting_without_parseqs_middleware_fails_the_check(host):
    host.add_file(
        "hostsite/bad_settings.py",
        """
        from hostsite.settings import *  # noqa: F403

        DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}
        """,
    )
    result = host.manage("check", "--settings", "hostsite.bad_settings", check=False)
    assert result.returncode != 0
    assert "parseq.E001" in result.stderr
