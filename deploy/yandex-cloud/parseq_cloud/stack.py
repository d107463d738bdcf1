"""What seed 001's deployment used, as code: a network, Managed PostgreSQL, an Object
Storage bucket with a service account and static keys, and one VM running Parseq's compose
stack (web, worker, scheduler, RabbitMQ; Caddy for HTTPS) against them.

Why a VM, not Managed Kubernetes: it is what the seed ran, Yandex Cloud has no managed
RabbitMQ (it runs on the VM beside the workers), and one VM is the smallest bill. When
one machine is not enough, item 4's manifests (deploy/kubernetes/) run on a Managed
Kubernetes cluster against the same database and bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_yandex_marketmaker as yandex

from parseq_cloud import vm

PG_PORT = 6432  # Managed PostgreSQL's connection pooler
SUBNET = "10.20.0.0/24"
STORAGE_ENDPOINT = "https://storage.yandexcloud.net"


@dataclass
class Stack:
    network: yandex.VpcNetwork
    subnet: yandex.VpcSubnet
    database_cluster: yandex.MdbPostgresqlCluster
    database_user: yandex.MdbPostgresqlUser
    database: yandex.MdbPostgresqlDatabase
    service_account: yandex.IamServiceAccount
    access_key: yandex.IamServiceAccountStaticAccessKey
    bucket: yandex.StorageBucket
    address: yandex.VpcAddress
    instance: yandex.ComputeInstance
    app_env: pulumi.Output  # dict: the Parseq processes' environment (a secret)
    database_host: pulumi.Output
    public_url: pulumi.Output


def network(zone: str) -> tuple[yandex.VpcNetwork, yandex.VpcSubnet]:
    net = yandex.VpcNetwork("parseq")
    subnet = yandex.VpcSubnet("parseq", network_id=net.id, zone=zone, v4_cidr_blocks=[SUBNET])
    return net, subnet


def security_groups(net: yandex.VpcNetwork) -> tuple[yandex.VpcSecurityGroup, ...]:
    anywhere = ["0.0.0.0/0"]
    web = yandex.VpcSecurityGroup(
        "parseq-vm",
        network_id=net.id,
        ingresses=[
            yandex.VpcSecurityGroupIngressArgs(protocol="TCP", port=p, v4_cidr_blocks=anywhere)
            for p in (22, 80, 443)
        ],
        egresses=[yandex.VpcSecurityGroupEgressArgs(protocol="ANY", v4_cidr_blocks=anywhere)],
    )
    db = yandex.VpcSecurityGroup(
        "parseq-db",
        network_id=net.id,
        ingresses=[
            yandex.VpcSecurityGroupIngressArgs(
                protocol="TCP", port=PG_PORT, v4_cidr_blocks=[SUBNET]
            )
        ],
    )
    return web, db


def postgres(net, subnet, zone: str, group, password: pulumi.Output):
    cluster = yandex.MdbPostgresqlCluster(
        "parseq",
        environment="PRODUCTION",
        network_id=net.id,
        security_group_ids=[group.id],
        config=yandex.MdbPostgresqlClusterConfigArgs(
            version="16",
            resources=yandex.MdbPostgresqlClusterConfigResourcesArgs(
                resource_preset_id="s2.micro", disk_type_id="network-ssd", disk_size=20
            ),
        ),
        hosts=[yandex.MdbPostgresqlClusterHostArgs(zone=zone, subnet_id=subnet.id)],
    )
    user = yandex.MdbPostgresqlUser(
        "parseq", cluster_id=cluster.id, name="parseq", password=password
    )
    database = yandex.MdbPostgresqlDatabase(
        "parseq", cluster_id=cluster.id, name="parseq", owner=user.name
    )
    # The special FQDN of the cluster's current primary: it follows a failover.
    host = cluster.id.apply(lambda cluster_id: f"c-{cluster_id}.rw.mdb.yandexcloud.net")
    return cluster, user, database, host


def storage(folder_id: str, bucket_name: str):
    account = yandex.IamServiceAccount("parseq-storage", description="Parseq's S3 access")
    key = yandex.IamServiceAccountStaticAccessKey(
        "parseq-storage", service_account_id=account.id, description="Parseq (AWS_ACCESS_KEY_ID)"
    )
    bucket = yandex.StorageBucket(
        "parseq",
        bucket=bucket_name,
        folder_id=folder_id,  # created with the deployer's IAM token, then granted below
        grants=[
            yandex.StorageBucketGrantArgs(
                id=account.id, type="CanonicalUser", permissions=["FULL_CONTROL"]
            )
        ],
    )
    return account, key, bucket


def database_url(user: str, password: str, host: str, name: str) -> str:
    return f"postgres://{quote(user)}:{quote(password, safe='')}@{host}:{PG_PORT}/{name}?sslmode=require"


def build() -> Stack:
    config = pulumi.Config("parseq")
    yc = pulumi.Config("yandex")
    zone = yc.get("zone") or "ru-central1-a"
    folder_id = yc.require("folderId")
    domain = config.get("domain") or ""
    net, subnet = network(zone)
    vm_group, db_group = security_groups(net)
    cluster, user, database, host = postgres(
        net, subnet, zone, db_group, config.require_secret("dbPassword")
    )
    account, key, bucket = storage(folder_id, config.get("bucket") or "parseq-files")
    address = yandex.VpcAddress(
        "parseq", external_ipv4_address=yandex.VpcAddressExternalIpv4AddressArgs(zone_id=zone)
    )
    ip = address.external_ipv4_address.apply(lambda a: a.address)
    public_url = ip.apply(lambda addr: f"https://{domain}" if domain else f"http://{addr}")
    app_env = pulumi.Output.all(
        url=public_url,
        ip=ip,
        db=pulumi.Output.all(user.name, config.require_secret("dbPassword"), host, database.name),
        bucket=bucket.bucket,
        key_id=key.access_key,
        key_secret=pulumi.Output.secret(key.secret_key),
        secret_key=config.require_secret("secretKey"),
        rabbit=config.require_secret("rabbitmqPassword"),
        metrics_token=config.require_secret("metricsToken"),
    ).apply(lambda v: vm.app_environment(v, database_url(*v["db"])))
    image = yandex.get_compute_image(family="ubuntu-2404-lts")
    instance = vm.instance(
        zone=zone,
        subnet=subnet,
        group=vm_group,
        address=address,
        image_id=image.id,
        user_data=pulumi.Output.all(app_env, config.require_secret("rabbitmqPassword")).apply(
            lambda v: vm.cloud_init(
                v[0], v[1], domain, config.require("repoUrl"), config.get("gitRef") or "main"
            )
        ),
        ssh_key=config.get("sshPublicKey") or "",
    )
    return Stack(
        network=net,
        subnet=subnet,
        database_cluster=cluster,
        database_user=user,
        database=database,
        service_account=account,
        access_key=key,
        bucket=bucket,
        address=address,
        instance=instance,
        app_env=pulumi.Output.secret(app_env),
        database_host=host,
        public_url=public_url,
    )
