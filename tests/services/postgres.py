"""A throwaway PostgreSQL cluster: initdb + pg_ctl in a temp dir, on 127.0.0.1."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from tests.services import as_user, chown_to, free_port, server_env

USER = "postgres"


@dataclass
class PostgresServer:
    data_dir: str
    port: int

    @property
    def base_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def url(self, database: str = "postgres") -> str:
        return f"{self.base_url}/{database}"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            as_user(USER, ["pg_ctl", "-D", self.data_dir, *args]),
            check=check,
            capture_output=True,
            text=True,
            env=server_env(),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._ctl("-o", options, "-l", os.path.join(self.data_dir, "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                "psql",
                "-X",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)


def available() -> bool:
    return bool(shutil.which("initdb") and shutil.which("pg_ctl"))


def start_cluster() -> PostgresServer:
    """initdb and start a new cluster; it is destroyed when the process exits."""
    base = tempfile.mkdtemp(prefix="parseq-pg-")
    os.chmod(base, 0o755)
    data_dir = os.path.join(base, "data")
    os.mkdir(data_dir, 0o700)
    chown_to(data_dir, USER)
    subprocess.run(
        as_user(
            USER,
            [
                "initdb",
                "-D",
                data_dir,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    server = PostgresServer(data_dir=data_dir, port=free_port())
    deadline = time.monotonic() + 30
    while True:
        try:
            server.start()
            break
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            server.port = free_port()  # lost a race for the port: try another
    atexit.register(server.destroy)
    return server
