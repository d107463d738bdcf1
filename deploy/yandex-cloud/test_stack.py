"""The Pulumi program, run offline against Pulumi's mocks: its resources exist, are wired
together, keep secrets secret, and give Parseq only environment names its settings read.

Run in the program's own virtualenv: ``venv/bin/python -m unittest -v test_stack``
(``tests/test_yandex_cloud.py`` does, from ``make test``).
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path

import pulumi
import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]  # parseq_cloud; the repo's tests helpers

from tests.deploy_helpers import unread_variables  # noqa: E402

CONFIG = {
    "yandex:folderId": "b1gfolder",
    "yandex:zone": "ru-central1-a",
    "parseq:domain": "parseq.example.ru",
    "parseq:repoUrl": "https://git.example.ru/parseq.git",
    "parseq:dbPassword": "db-pa$$word/1",
    "parseq:secretKey": "django-secret",
    "parseq:rabbitmqPassword": "rabbit$pw",
    "parseq:metricsToken": "metrics-token",
}
SECRETS = [
    "parseq:dbPassword",
    "parseq:secretKey",
    "parseq:rabbitmqPassword",
    "parseq:metricsToken",
]
KEY_SECRET = "static-key-secret-from-yandex"


class Mocks(pulumi.runtime.Mocks):
    """Echo the inputs back, plus what Yandex Cloud would compute."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ.endswith(":VpcAddress"):
            outputs["externalIpv4Address"] = {
                **outputs["externalIpv4Address"],
                "address": "203.0.113.7",
            }
        if args.typ.endswith(":IamServiceAccountStaticAccessKey"):
            outputs.update(accessKey="YCAJEexampleKeyId", secretKey=KEY_SECRET)
        return [f"{args.name}-id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token.endswith("getComputeImage"):
            return {"id": "fd8ubuntu2404", "imageId": "fd8ubuntu2404", "family": "ubuntu-2404-lts"}
        return {}


pulumi.runtime.set_mocks(Mocks(), preview=False)
pulumi.runtime.set_all_config(CONFIG, secret_keys=SECRETS)

from parseq_cloud import stack as program  # noqa: E402  (after the mocks)

STACK = program.build()


def resolved(*outputs):
    """Run a check on the resolved values of ``outputs`` (Pulumi's test idiom)."""

    def decorate(check):
        return pulumi.Output.all(*outputs).apply(lambda values: check(*values))

    return decorate


class TheStack(unittest.TestCase):
    @pulumi.runtime.test
    def test_the_subnet_the_database_and_the_vm_share_one_network(self):
        s = STACK
        nic = s.instance.network_interfaces.apply(lambda nics: nics[0])

        @resolved(
            s.network.id,
            s.subnet.network_id,
            s.database_cluster.network_id,
            s.database_cluster.hosts,
            s.subnet.id,
            nic,
        )
        def check(net, subnet_net, db_net, hosts, subnet, nic):
            self.assertEqual(subnet_net, net)
            self.assertEqual(db_net, net)
            self.assertEqual([h["subnet_id"] for h in hosts], [subnet])
            self.assertEqual(nic["subnet_id"], subnet)
            self.assertEqual(nic["nat_ip_address"], "203.0.113.7")

        return check

    @pulumi.runtime.test
    def test_the_database_and_its_user_belong_to_the_cluster(self):
        s = STACK

        @resolved(
            s.database_cluster.id,
            s.database_user.cluster_id,
            s.database.cluster_id,
            s.database.owner,
            s.database_user.name,
            s.database_cluster.config,
        )
        def check(cluster, user_cluster, db_cluster, owner, user, config):
            self.assertEqual((user_cluster, db_cluster), (cluster, cluster))
            self.assertEqual(owner, user)
            self.assertEqual(config["version"], "16")

        return check

    @pulumi.runtime.test
    def test_the_bucket_is_granted_to_the_service_account_whose_keys_parseq_gets(self):
        s = STACK

        @resolved(
            s.service_account.id,
            s.access_key.service_account_id,
            s.bucket.grants,
            s.bucket.bucket,
            s.app_env,
        )
        def check(account, key_account, grants, bucket, env):
            self.assertEqual(key_account, account)
            self.assertEqual(
                [(g["id"], g["permissions"]) for g in grants], [(account, ["FULL_CONTROL"])]
            )
            self.assertEqual(env["AWS_STORAGE_BUCKET_NAME"], bucket)
            self.assertEqual(env["AWS_ACCESS_KEY_ID"], "YCAJEexampleKeyId")
            self.assertEqual(env["AWS_SECRET_ACCESS_KEY"], KEY_SECRET)
            self.assertEqual(env["AWS_S3_ENDPOINT_URL"], program.STORAGE_ENDPOINT)

        return check

    @pulumi.runtime.test
    def test_parseq_gets_only_variables_its_settings_read_and_reaches_the_cluster(self):
        @resolved(STACK.app_env, STACK.database_cluster.id)
        def check(env, cluster):
            self.assertEqual(unread_variables(env), [])
            url = env["DATABASE_URL"]
            self.assertIn(f"@c-{cluster}.rw.mdb.yandexcloud.net:6432/parseq", url)
            self.assertIn("db-pa%24%24word%2F1", url)  # the password, URL-quoted
            self.assertEqual(env["PARSEQ_BROKER_URL"], "amqp://parseq:rabbit$pw@rabbitmq:5672/%2F")
            self.assertEqual(env["PARSEQ_LOG_FORMAT"], "json")

        return check

    @pulumi.runtime.test
    def test_secrets_stay_pulumi_secrets(self):
        s = STACK
        user_data = s.instance.metadata.apply(lambda m: m["user-data"])
        # (The static key's secret is marked secret by the provider's schema, which the
        # engine applies and mocks do not; the program wraps it in Output.secret anyway.)
        checks = [s.app_env, user_data, s.database_user.password]
        return pulumi.Output.all(*[o.is_secret() for o in checks]).apply(
            lambda flags: self.assertEqual(flags, [True] * len(checks))
        )

    @pulumi.runtime.test
    def test_the_vm_runs_the_repositorys_compose_stack_without_its_database_and_minio(self):
        user_data = STACK.instance.metadata.apply(lambda m: m["user-data"])

        @resolved(user_data)
        def check(text):
            self.assertTrue(text.startswith("#cloud-config\n"))
            config = yaml.safe_load(text)
            files = {f["path"]: f for f in config["write_files"]}
            compose = yaml.safe_load(files["/opt/parseq/docker-compose.cloud.yml"]["content"])
            repo = yaml.safe_load((HERE.parents[1] / "docker-compose.yml").read_text())
            self.assertFalse({"postgres", "minio", "createbucket"} & set(compose["services"]))
            for name in ("migrate", "web", "worker", "scheduler"):
                service = compose["services"][name]
                self.assertEqual(service["command"], repo["services"][name]["command"])
                self.assertEqual(service["env_file"], ["/opt/parseq/parseq.env"])
                self.assertNotIn("environment", service)
            self.assertEqual(
                compose["services"]["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"],
                "rabbit$$pw",
            )
            caddy = compose["services"]["caddy"]["command"]
            self.assertEqual(caddy[caddy.index("--from") + 1], "parseq.example.ru")
            env_file = files["/opt/parseq/parseq.env"]
            self.assertEqual(env_file["permissions"], "0600")
            names = [line.split("=", 1)[0] for line in env_file["content"].splitlines()]
            self.assertEqual(unread_variables(names), [])
            self.assertIn("SECRET_KEY='django-secret'", env_file["content"].splitlines())
            clone = config["runcmd"][0]
            self.assertEqual(clone[-2:], ["https://git.example.ru/parseq.git", "/opt/parseq/src"])

        return check

    @pulumi.runtime.test
    def test_it_outputs_the_public_url_and_the_bucket(self):
        @resolved(STACK.public_url, STACK.bucket.bucket)
        def check(url, bucket):
            self.assertEqual(url, "https://parseq.example.ru")
            self.assertEqual(bucket, "parseq-files")

        return check


if __name__ == "__main__":
    unittest.main()
