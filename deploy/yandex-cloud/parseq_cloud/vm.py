"""The VM: cloud-init installs Docker, checks out Parseq and starts its compose stack.

The stack is the repository's own docker-compose.yml, rewritten for the cloud: its
PostgreSQL, MinIO and bucket-creating services are dropped (Managed PostgreSQL and Object
Storage replace them), the Parseq services read their environment from a root-only file,
and Caddy in front gets a certificate for ``domain`` (plain HTTP on the IP without one).
Commands and health checks stay exactly those of the repository's compose file.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_yandex_marketmaker as yandex
import yaml

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
DROPPED = ("postgres", "minio", "createbucket")
SRC = "/opt/parseq/src"
ENV_FILE = "/opt/parseq/parseq.env"


def app_environment(v: dict, database_url: str) -> dict[str, str]:
    """The Parseq processes' environment: every name one parseq/settings.py reads."""
    host = v["url"].split("://", 1)[1]
    return {
        "SECRET_KEY": v["secret_key"],
        "DEBUG": "0",
        "ALLOWED_HOSTS": ",".join(dict.fromkeys([host, v["ip"], "web", "127.0.0.1"])),
        "CSRF_TRUSTED_ORIGINS": v["url"],
        "PARSEQ_BASE_URL": v["url"],
        "DATABASE_URL": database_url,
        "PARSEQ_BROKER_URL": f"amqp://parseq:{v['rabbit']}@rabbitmq:5672/%2F",
        "AWS_STORAGE_BUCKET_NAME": v["bucket"],
        "AWS_S3_ENDPOINT_URL": "https://storage.yandexcloud.net",
        "AWS_S3_REGION_NAME": "ru-central1",
        "AWS_ACCESS_KEY_ID": v["key_id"],
        "AWS_SECRET_ACCESS_KEY": v["key_secret"],
        "PARSEQ_LOG_FORMAT": "json",
        "PARSEQ_METRICS": "1",
        "PARSEQ_METRICS_TOKEN": v["metrics_token"],
        "PARSEQ_DEFAULT_TIMEOUT": "3600",
        "PARSEQ_SHUTDOWN_GRACE": "30",
        "PARSEQ_SPOOL_DIR": "/var/lib/parseq/spool",
    }


def compose_file(rabbitmq_password: str, domain: str) -> dict:
    """The repository's compose stack, for a VM beside Managed PostgreSQL and Object Storage."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = {k: v for k, v in compose["services"].items() if k not in DROPPED}
    for service in services.values():
        if "build" not in service:
            continue
        service.pop("environment", None)
        service["env_file"] = [ENV_FILE]
        service["depends_on"] = {
            dep: cond for dep, cond in service.get("depends_on", {}).items() if dep not in DROPPED
        }
        if not service["depends_on"]:
            del service["depends_on"]
    # In a compose file "$" starts a variable: "$$" is a literal one.
    services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] = rabbitmq_password.replace(
        "$", "$$"
    )
    services["web"]["ports"] = ["127.0.0.1:8000:8000"]  # only through Caddy
    site = domain or ":80"
    services["caddy"] = {
        "image": "caddy:2",
        "restart": "unless-stopped",
        "command": ["caddy", "reverse-proxy", "--from", site, "--to", "web:8000"],
        "ports": ["80:80", "443:443"],
        "volumes": ["caddy-data:/data"],
        "depends_on": {"web": {"condition": "service_healthy"}},
    }
    volumes = {
        k: v for k, v in compose["volumes"].items() if k not in ("postgres-data", "minio-data")
    }
    return {"services": services, "volumes": {**volumes, "caddy-data": None}}


def env_file(env: dict[str, str]) -> str:
    """Compose's env_file: single-quoted values are taken literally (no ``$`` expansion)."""
    lines = []
    for name, value in env.items():
        if "'" in value or "\n" in value:
            raise ValueError(f"{name}: a quote or a newline cannot go into the VM's env file")
        lines.append(f"{name}='{value}'\n")
    return "".join(lines)


def cloud_init(
    env: dict[str, str], rabbitmq_password: str, domain: str, repo: str, ref: str
) -> str:
    env_text = env_file(env)
    compose = yaml.safe_dump(compose_file(rabbitmq_password, domain), sort_keys=False)
    config = {
        "package_update": True,
        "packages": ["docker.io", "docker-compose-v2", "git"],
        "write_files": [
            {"path": ENV_FILE, "permissions": "0600", "content": env_text},
            {
                "path": "/opt/parseq/docker-compose.cloud.yml",
                "permissions": "0600",
                "content": compose,
            },
        ],
        "runcmd": [
            ["git", "clone", "--depth", "1", "--branch", ref, repo, SRC],
            ["cp", "/opt/parseq/docker-compose.cloud.yml", f"{SRC}/docker-compose.cloud.yml"],
            ["docker", "compose", "-f", f"{SRC}/docker-compose.cloud.yml", "up", "-d", "--build"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)


def instance(*, zone, subnet, group, address, image_id, user_data, ssh_key: str):
    metadata = {"user-data": pulumi.Output.secret(user_data)}
    if ssh_key:
        metadata["ssh-keys"] = f"ubuntu:{ssh_key}"
    return yandex.ComputeInstance(
        "parseq",
        zone=zone,
        platform_id="standard-v3",
        resources=yandex.ComputeInstanceResourcesArgs(cores=2, memory=4),
        boot_disk=yandex.ComputeInstanceBootDiskArgs(
            initialize_params=yandex.ComputeInstanceBootDiskInitializeParamsArgs(
                image_id=image_id, size=40, type="network-ssd"
            )
        ),
        network_interfaces=[
            yandex.ComputeInstanceNetworkInterfaceArgs(
                subnet_id=subnet.id,
                nat=True,
                nat_ip_address=address.external_ipv4_address.apply(lambda a: a.address),
                security_group_ids=[group.id],
            )
        ],
        metadata=metadata,
    )
