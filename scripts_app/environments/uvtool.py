"""Running uv: the binary the ``uv`` package installs, with a clean environment.

uv gets no secret of the server: its environment is PATH, its cache, a few network
variables (proxies, CA bundle) and the package index settings. Index URLs may carry
credentials (``https://user:token@…``): they travel in uv's *environment*
(``UV_DEFAULT_INDEX`` …) — never on its command line, which any process can read in
/proc — and every text uv hands back is scrubbed of them before it is stored or logged.
uv never downloads an interpreter (``UV_PYTHON_DOWNLOADS=never``) and reads no
``uv.toml`` (``--no-config``): a lock depends only on the settings below.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from scripts_app.errors import UvFailed

# Passed through from the worker's environment: how to reach an index, never a secret
# of Parseq's own (proxy credentials, if any, are the index's business).
NETWORK_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
NO_INDEX = "none"


@functools.cache
def uv_bin() -> str:
    import uv

    return uv.find_uv_bin()


@functools.cache
def version() -> str:
    done = subprocess.run([uv_bin(), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.split()[1]


def base_python() -> str:
    """The interpreter environments are made from: the worker's own, outside its venv
    (a script's environment must not see the worker's site-packages)."""
    return getattr(sys, "_base_executable", None) or sys.executable


@dataclass(frozen=True)
class Index:
    """Where packages come from (PARSEQ_PIP_INDEX_URL / _EXTRA_INDEX_URL / _FIND_LINKS)."""

    default: str = ""  # "" = uv's default (PyPI); "none" = no index, only find-links
    extra: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> Index:
        return cls(
            default=getattr(settings, "PARSEQ_PIP_INDEX_URL", "") or "",
            extra=tuple(getattr(settings, "PARSEQ_PIP_EXTRA_INDEX_URL", ()) or ()),
            find_links=tuple(getattr(settings, "PARSEQ_PIP_FIND_LINKS", ()) or ()),
        )

    def env(self) -> dict[str, str]:
        env = {}
        if self.default and self.default != NO_INDEX:
            env["UV_DEFAULT_INDEX"] = self.default
        if self.extra:
            env["UV_EXTRA_INDEX_URL"] = " ".join(self.extra)
        if self.find_links:
            env["UV_FIND_LINKS"] = ",".join(self.find_links)
        return env

    def args(self) -> list[str]:
        return ["--no-index"] if self.default == NO_INDEX else []

    def secrets(self) -> list[str]:
        """Every credential part of the configured URLs, longest first."""
        found = set()
        for url in (self.default, *self.extra, *self.find_links):
            parts = urlsplit(url)
            for part in (parts.username, parts.password):
                if part:
                    found.update({part, unquote(part)})
            if "@" in parts.netloc:
                found.add(parts.netloc.rsplit("@", 1)[0])
        return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "****")
        return text


def uv_env(cache_dir: Path, index: Index) -> dict[str, str]:
    env = {name: os.environ[name] for name in NETWORK_VARS if name in os.environ}
    env.update(
        PATH=os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        HOME=str(cache_dir),
        UV_CACHE_DIR=str(cache_dir / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        NO_COLOR="1",
    )
    env.update(index.env())
    return env


def run(
    args: list[str],
    *,
    cache_dir: Path,
    index: Index,
    timeout: float,
    stdin: str | None = None,
) -> str:
    """Run ``uv ARGS`` and return its stdout; UvFailed with its error text otherwise."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    try:
        done = subprocess.run(
            [uv_bin(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=uv_env(cache_dir, index),
            cwd=cache_dir,
            **feed,
        )
    except subprocess.TimeoutExpired:
        raise UvFailed(f"uv did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        raise UvFailed(clean_error(index.redact(done.stderr or done.stdout)))
    return index.redact(done.stdout)


def clean_error(text: str) -> str:
    """uv's error without its progress chatter; at most the last 4,000 characters."""
    lines = [
        line
        for line in text.strip().splitlines()
        if not line.startswith(("Resolved ", "Prepared ", "Installed ", "Using ", "Audited "))
    ]
    return "\n".join(lines).strip()[-4000:] or "uv failed without saying why"
