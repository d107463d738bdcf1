"""An S3 endpoint for tests: ``moto_server`` on 127.0.0.1, spoken to exactly like AWS or MinIO."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest

from tests.services import free_port, need, server_env

ACCESS_KEY = "parseq-test-access"
SECRET_KEY = "parseq-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    port: int
    bucket: str = field(default_factory=lambda: f"parseq-{secrets.token_hex(4)}")
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_env(self) -> dict[str, str]:
        """The environment a Parseq process needs to store its files here."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_REGION_NAME": REGION,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def keys(self, prefix: str = "") -> list[str]:
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def start(self) -> None:
        moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
        if not os.path.exists(moto):
            moto = need(
                "moto_server", "the S3 tests need an S3 endpoint (pip install moto[server])"
            )
        self.process = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)],
            env=server_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).close()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if self.process.poll() is not None:
                    raise RuntimeError("moto_server exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("moto_server did not answer in time")

    def stop(self) -> None:
        """Make the endpoint unreachable (state is lost: use a fresh bucket after start())."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def create_bucket(self) -> None:
        self.client().create_bucket(Bucket=self.bucket)


def start_s3() -> S3Server:
    server = S3Server(port=free_port())
    server.start()
    server.create_bucket()
    return server


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 endpoint with an empty bucket, for the whole session."""
    server = start_s3()
    yield server
    server.stop()
