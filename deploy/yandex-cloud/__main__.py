"""Parseq on Yandex Cloud: ``pulumi up`` in this folder (see README.md)."""

import pulumi
from parseq_cloud.stack import build

stack = build()
pulumi.export("public_url", stack.public_url)
pulumi.export("bucket", stack.bucket.bucket)
pulumi.export("vm_ip", stack.address.external_ipv4_address.address)
pulumi.export("database_host", stack.database_host)
