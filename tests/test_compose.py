"""docker-compose.yml and the Dockerfile, checked by reading them (no Docker engine needed)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list", "env_choice", "env_url", "get"}
PARSEQ_SERVICES = ("migrate", "web", "worker", "worker-heavy", "scheduler")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def variables_the_settings_read() -> set[str]:
    """Every NAME in env_*("NAME", …) / os.environ.get("NAME") of parseq/settings.py and env.py."""
    names = set()
    for module in ("settings.py", "env.py"):
        tree = ast.parse((ROOT / "parseq" / module).read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in ENV_READERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(node.args[0].value)
    return names


def parseq_services(compose: dict) -> dict[str, dict]:
    return {name: compose["services"][name] for name in PARSEQ_SERVICES}


def test_it_runs_the_whole_production_stack(compose):
    assert set(compose["services"]) >= {
        "postgres",
        "rabbitmq",
        "minio",
        "createbucket",
        *PARSEQ_SERVICES,
    }


def test_every_variable_it_gives_parseq_is_one_the_settings_read(compose):
    read = variables_the_settings_read()
    for name, service in parseq_services(compose).items():
        unknown = set(service["environment"]) - read
        assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


def test_it_points_parseq_at_postgres_rabbitmq_and_minio(compose):
    env = compose["services"]["web"]["environment"]
    assert (
        env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    )
    assert (
        env["PARSEQ_BROKER_URL"].startswith("amqp://")
        and "@rabbitmq:5672/" in env["PARSEQ_BROKER_URL"]
    )
    assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    bucket_setup = " ".join(compose["services"]["createbucket"]["entrypoint"])
    assert f"mb --ignore-existing local/{env['AWS_STORAGE_BUCKET_NAME']}" in bucket_setup
    minio = compose["services"]["minio"]["environment"]
    assert (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"]) == (
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
    )


def test_every_manage_py_command_it_runs_exists_and_takes_those_arguments(compose):
    commands = get_commands()
    for name, service in parseq_services(compose).items():
        argv = service["command"]
        if argv[:2] != ["python", "manage.py"]:
            continue
        command, args = argv[2], argv[3:]
        assert command in commands, f"{name} runs manage.py {command}, which does not exist"
        parser = load_command_class(commands[command], command).create_parser("manage.py", command)
        parser.parse_args(args)  # exits (fails the test) on an unknown option
        for probe in (service.get("healthcheck") or {}).get("test", [])[3:4]:
            assert probe in commands


def test_the_web_server_is_gunicorn_serving_the_wsgi_application(compose):
    argv = compose["services"]["web"]["command"]
    assert argv[0] == "gunicorn"
    assert shutil.which("gunicorn", path=os.path.dirname(sys.executable)), "gunicorn not installed"
    module, _, attribute = argv[1].partition(":")
    source = ROOT / (module.replace(".", "/") + ".py")
    assigned = {
        target.id
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in assigned, f"{source} defines no {attribute}"


def test_workers_scale_and_the_heavy_pool_consumes_only_its_queue(compose):
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=4 works
    heavy = compose["services"]["worker-heavy"]["command"]
    assert heavy[heavy.index("--queues") + 1 :] == ["heavy"]


def test_rabbitmq_consumer_timeout_outlasts_the_longest_job(compose):
    rabbit = compose["services"]["rabbitmq"]
    assert "management" in rabbit["image"]
    args = rabbit["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    timeout_ms = int(re.search(r"consumer_timeout (\d+)", args).group(1))
    env = compose["services"]["worker"]["environment"]
    longest = int(env["PARSEQ_DEFAULT_TIMEOUT"]) + int(env["PARSEQ_SHUTDOWN_GRACE"])
    assert timeout_ms > longest * 1000


def test_data_lives_in_volumes_and_services_have_health_checks(compose):
    for name in ("postgres", "rabbitmq", "minio"):
        assert compose["services"][name]["volumes"], name
    for name in ("postgres", "rabbitmq", "minio", "web", "worker", "scheduler"):
        assert compose["services"][name]["healthcheck"]["test"], name
    declared = set(compose["volumes"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared


def test_the_image_is_slim_runs_as_a_non_root_user_and_collects_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert final_stage.startswith("python:3.11-slim")
    users = re.findall(r"^USER (\S+)", final_stage, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "collectstatic" in final_stage
    for copied in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", dockerfile, re.M):
        assert (ROOT / copied).exists(), copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_each_worker_pool_keeps_its_environment_cache_on_a_volume_and_the_image_ships_uv(
    compose,
):
    for name in ("worker", "worker-heavy"):
        service = compose["services"][name]
        cache = service["environment"]["PARSEQ_ENV_CACHE"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        assert cache in mounts, f"{name} keeps its environments in the container"
    volumes = [compose["services"][n]["volumes"] for n in ("worker", "worker-heavy")]
    assert {v.split(":")[0] for v in volumes[0]}.isdisjoint(v.split(":")[0] for v in volumes[1])
    assert re.search(r"^uv==\S+$", (ROOT / "requirements.txt").read_text(), re.M)
    assert "requirements.txt" in (ROOT / "Dockerfile").read_text()


def test_the_web_server_outwaits_a_lock_at_upload(compose, settings):
    for argv in (compose["services"]["web"]["command"], (ROOT / "Dockerfile").read_text().split()):
        timeout = int(argv[argv.index("--timeout") + 1])
        assert timeout > settings.PARSEQ_ENV_LOCK_TIMEOUT
