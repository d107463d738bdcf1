"""Loading the demo jobs described by ``parsers/demo_jobs.json``.

A spec is a Job's fields, plus an optional ``"secrets"`` map of secret name → source,
filled in from the server's own configuration when the job is created. The one source
is ``"database_url"``: the server's database as a URL, for the backup job. The script
then reaches the database through that declared secret, never the server's environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from scripts_app.jobs import saving
from scripts_app.models import Job

DEMO_FILE = "demo_jobs.json"
# Django's PostgreSQL OPTIONS that mean the same to pg_dump, passed on in the URL.
LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")


def demo_specs(parsers_dir: Path | None = None) -> list[dict]:
    path = Path(parsers_dir or settings.PARSEQ_SCRIPTS_DIR) / DEMO_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def database_url(alias: str = DEFAULT_DB_ALIAS) -> str:
    """The database Django uses for ``alias``, as a ``postgres://`` or ``sqlite:///`` URL."""
    return url_for(connections[alias].settings_dict)


def url_for(conf: dict) -> str:
    """A DATABASES entry as a URL (the inverse of ``scripts_app.envvars.database_from_url``)."""
    engine = conf["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        return "sqlite:///" + str(Path(conf["NAME"]).resolve())
    if engine not in ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"):
        raise ValueError(f"no backup URL for the database engine {engine}")
    user = quote(conf.get("USER") or "", safe="")
    password = quote(conf.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = conf.get("HOST") or ""
    query = {}
    if host.startswith("/"):  # a Unix-socket directory goes in the query
        query["host"], host = host, ""
    elif ":" in host:
        host = f"[{host}]"
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    options = conf.get("OPTIONS") or {}
    query.update({key: str(options[key]) for key in LIBPQ_OPTIONS if key in options})
    name = quote(conf["NAME"], safe="")
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgres://{credentials}{host}{port}/{name}{suffix}"


SECRET_SOURCES = {"database_url": database_url}


class DemoLoad(NamedTuple):
    created: list[str]
    kept: list[str]
    skipped: dict[str, str]  # slug → why it could not be set up here


def _secret_values(slug: str, wanted: dict[str, str]) -> dict[str, str]:
    """Name → value of the secrets a spec asks for; ValueError when one cannot be made."""
    values = {}
    for name, source in wanted.items():
        if source not in SECRET_SOURCES:
            raise ValueError(f"{slug}: unknown secret source {source!r} for {name}")
        values[name] = SECRET_SOURCES[source]()
    return values


# Why the backup demo is not made where scripts are sandboxed and the database is a file.
HIDDEN_FILE = (
    "it would back up the SQLite file of this server, which sandboxed scripts cannot "
    "see (it holds every API token); with PostgreSQL it dumps over the network, or set "
    "PARSEQ_SANDBOX=off"
)


def _reads_server_files(secret_values: dict[str, str]) -> bool:
    return any(value.startswith("sqlite:") for value in secret_values.values())


@transaction.atomic
def load_demo_jobs(
    parsers_dir: Path | None = None, *, server_files_visible: bool = True
) -> DemoLoad:
    """Create the demo jobs that do not exist yet; never touch ones that do.

    Returns the created and kept slugs, so running it twice changes nothing, and the
    ones skipped because this server cannot provide their secrets (e.g. the backup job
    on a database engine it cannot dump, or on a SQLite file that sandboxed scripts —
    ``server_files_visible=False`` — cannot read).
    """
    from scripts_app.jobs.secrets import set_secret

    result = DemoLoad([], [], {})
    for spec in demo_specs(parsers_dir):
        fields = dict(spec)
        slug = fields["slug"]
        if Job.objects.filter(slug=slug).exists():
            result.kept.append(slug)
            continue
        try:
            secret_values = _secret_values(slug, fields.pop("secrets", {}))
        except ValueError as exc:
            result.skipped[slug] = str(exc)
            continue
        if not server_files_visible and _reads_server_files(secret_values):
            result.skipped[slug] = HIDDEN_FILE
            continue
        job = Job(**fields)
        job.full_clean()
        saving.save_job(lambda job=job: job.save() or job)  # stores its script version too
        for name, value in secret_values.items():
            set_secret(job, name, value)
        result.created.append(slug)
    return result
