"""Packages for the environment tests, made here and served from here: no test reaches
the internet. Tiny wheels are written by hand (a wheel is a zip with three metadata
files), and served as a find-links folder or by a local PEP 503 "simple" index (with
basic auth and a delay when a test needs them).

- ``tinypkg`` 1.0 and 2.0: ``tinypkg.__version__``;
- ``tinydep`` 1.0, which requires ``tinypkg>=2``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import threading
import time
import zipfile
from pathlib import Path

import pytest
from django.test import override_settings

TAG = "py3-none-any"


def build_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of package ``name`` whose ``__version__`` is ``version``."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    requirements = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + requirements,
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: parseq-tests\nRoot-Is-Purelib: true\n"
        f"Tag: {TAG}\n",
    }
    path = folder / f"{dist}-{version}-{TAG}.whl"
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_zip, text in files.items():
            data = text.encode()
            archive.writestr(name_in_zip, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name_in_zip},sha256={digest.decode()},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def make_wheelhouse(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    build_wheel(folder, "tinypkg", "1.0")
    build_wheel(folder, "tinypkg", "2.0")
    build_wheel(folder, "tinydep", "1.0", requires=("tinypkg>=2",))
    return folder


class LocalIndex:
    """A PEP 503 index of a wheel folder on 127.0.0.1, optionally behind basic auth, and
    answering each request after ``delay`` seconds."""

    def __init__(self, folder: Path, *, auth: tuple[str, str] | None = None, delay: float = 0):
        self.folder, self.delay = folder, delay
        self.expected = (
            "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None
        )
        self.requests: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, credentials: str = "") -> str:
        host, port = self.server.server_address
        return f"http://{credentials + '@' if credentials else ''}{host}:{port}/simple/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                index.requests.append(self.path)
                time.sleep(index.delay)
                if index.expected and self.headers.get("Authorization") != index.expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test"')
                    self.end_headers()
                    return
                parts = [p for p in self.path.split("/") if p]
                if len(parts) == 2 and parts[0] == "simple":
                    return self._project(parts[1])
                if len(parts) == 2 and parts[0] == "files":
                    return self._send(200, (index.folder / parts[1]).read_bytes(), "binary")
                self._send(404, b"", "text/plain")

            def _project(self, name: str):
                wheels = [
                    w
                    for w in sorted(index.folder.glob("*.whl"))
                    if w.name.split("-")[0].replace("_", "-") == name
                ]
                if not wheels:
                    return self._send(404, b"", "text/plain")
                links = "".join(
                    f'<a href="/files/{html.escape(w.name)}">{html.escape(w.name)}</a>'
                    for w in wheels
                )
                self._send(200, f"<html><body>{links}</body></html>".encode(), "text/html")

            def _send(self, code: int, body: bytes, kind: str):
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    return make_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture
def offline_packages(wheelhouse, tmp_path):
    """Locks and builds against the wheelhouse only (no index), in a cache of this test."""
    with override_settings(
        PARSEQ_PIP_INDEX_URL="none",
        PARSEQ_PIP_EXTRA_INDEX_URL=[],
        PARSEQ_PIP_FIND_LINKS=[str(wheelhouse)],
        PARSEQ_ENV_CACHE=tmp_path / "env-cache",
    ):
        forget()
        yield wheelhouse
    forget()


def forget() -> None:
    """What this process remembers of locks, records and caches, dropped."""
    from scripts_app.environments import locking, records
    from scripts_app.worker import environments

    locking.forget()
    records.forget_process_state()
    environments.forget_caches()


def pep723(*dependencies: str, body: str = "", requires_python: str = "") -> str:
    """A script whose PEP 723 block declares ``dependencies``."""
    listed = ", ".join(f'"{d}"' for d in dependencies)
    lines = ["# /// script", f"# dependencies = [{listed}]"]
    if requires_python:
        lines.insert(1, f'# requires-python = "{requires_python}"')
    return "\n".join([*lines, "# ///", body])
