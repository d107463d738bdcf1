"""docker-compose.yml and the Dockerfile, checked by reading them (no Docker engine needed)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy_helpers import ROOT, check_command, check_gunicorn, unread_variables

PARSEQ_SERVICES = ("migrate", "loaddemo", "web", "worker", "worker-heavy", "scheduler")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


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
    for name, service in parseq_services(compose).items():
        unknown = unread_variables(service["environment"])
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"


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


def test_every_command_it_runs_exists_and_takes_those_arguments(compose):
    for service in parseq_services(compose).values():
        check_command(service["command"])
        probe = (service.get("healthcheck") or {}).get("test", [])
        if probe[1:3] == ["python", "manage.py"]:
            check_command(probe[1:])


def test_the_web_server_is_gunicorn_serving_the_wsgi_application(compose):
    check_gunicorn(compose["services"]["web"]["command"])


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


def test_health_checks_use_the_probes_of_each_process(compose):
    web = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in web
    for name, flag in (
        ("worker", "--worker"),
        ("worker-heavy", "--worker"),
        ("scheduler", "--scheduler"),
    ):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test == ["CMD", "python", "manage.py", "healthcheck", flag], name


def test_containers_log_json_lines():
    assert re.search(r"^\s+PARSEQ_LOG_FORMAT=json", (ROOT / "Dockerfile").read_text(), re.M)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in parseq_services(compose).items():
        assert service["environment"]["PARSEQ_LOG_FORMAT"] == "json", name
    cmd = (ROOT / "Dockerfile").read_text().rsplit("CMD ", 1)[1]
    assert "--config python:parseq.gunicorn" in cmd and "--access-logfile" not in cmd


def test_the_image_has_a_pg_dump_of_the_compose_postgresql_major_version(compose):
    # The demo db-backup job dumps compose's PostgreSQL: pg_dump must be of its major or newer.
    server_major = int(re.match(r"postgres:(\d+)", compose["services"]["postgres"]["image"])[1])
    final_stage = (ROOT / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    client_major = int(re.search(r"^ARG PG_MAJOR=(\d+)$", final_stage, re.M)[1])
    assert client_major == server_major
    assert '"postgresql-client-${PG_MAJOR}"' in final_stage
    # PGDG's packages, keyed to a Debian release the base image pins (bookworm ships 15).
    assert final_stage.startswith("python:3.11-slim-bookworm")
    assert "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y" in final_stage


def test_compose_mails_the_backup_to_its_admins_and_loads_the_demo_jobs(compose):
    env = compose["services"]["worker"]["environment"]
    assert env["PARSEQ_ADMIN_EMAILS"]  # db-backup notifies ADMINS, with no addresses of its own
    demo = compose["services"]["loaddemo"]
    assert demo["command"] == ["python", "manage.py", "loaddemo"] and demo["profiles"] == ["demo"]
    assert "docker compose run --rm loaddemo" in (ROOT / "README.md").read_text()


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
    from parseq import gunicorn

    web = next(yaml.safe_load_all((ROOT / "deploy/kubernetes/web.yaml").read_text()))
    commands = [
        compose["services"]["web"]["command"],
        (ROOT / "Dockerfile").read_text().rsplit("CMD ", 1)[1].split(),
        web["spec"]["template"]["spec"]["containers"][0]["command"],
    ]
    for argv in commands:  # every web server reads its settings from parseq/gunicorn.py
        assert argv[argv.index("--config") + 1] == "python:parseq.gunicorn"
        assert "--timeout" not in argv
    assert gunicorn.timeout > settings.PARSEQ_ENV_LOCK_TIMEOUT
