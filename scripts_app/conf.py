"""Every Parseq setting (PARSEQ_*), read from the environment, and the Dramatiq broker.

One definition for two kinds of project: Parseq's own settings (``parseq/settings.py``)
take them with ``globals().update(parseq_settings(BASE_DIR, DATA_DIR))``; in a host
project that only adds ``"scripts_app"`` to INSTALLED_APPS, the app calls
``apply_defaults()`` when it is imported, so any PARSEQ_* setting the host does not set
gets the same default (or the value of the same environment variable). A host's
DRAMATIQ_BROKER is ``dramatiq_broker()``: Parseq's worker middleware is not optional
(a worker without it would not claim, heartbeat or relay runs; check parseq.E001).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scripts_app.envvars import (
    env_bool,
    env_choice,
    env_first,
    env_int,
    env_list,
    env_networks,
    env_str,
    env_template,
    env_url,
)

# The worker's middleware, in order (scripts_app/worker/middleware.py, observability/).
WORKER_MIDDLEWARE = [
    "scripts_app.observability.context.RunLogContext",
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.ShutdownNotifications",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "scripts_app.worker.middleware.DbConnections",
    "scripts_app.worker.middleware.DeclareQueues",
    "scripts_app.worker.middleware.ShutdownGrace",
    "scripts_app.worker.middleware.SpoolUploader",
    "scripts_app.worker.middleware.ForkServer",
    "scripts_app.worker.middleware.MailCheck",
    "scripts_app.worker.middleware.EnvironmentCache",
    "scripts_app.observability.heartbeat.WorkerHeartbeat",
]
# drf-spectacular settings of Parseq's API schema (the schema view's custom_settings).
API_SCHEMA = {
    "TITLE": "Parseq API",
    "DESCRIPTION": "Run Python scripts as managed jobs; read their results, logs and files.",
    "VERSION": "1.0.0",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["scripts_app.api.schema.only_api_v1"],
}
LOCAL_RELAY = "scripts_app.worker.middleware.LocalRelay"
WORKER_METRICS = "scripts_app.observability.worker_metrics.WorkerMetrics"


def parseq_settings(base_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Every PARSEQ_* setting (and seed 003's MAX_SCRIPT_EXECUTION_TIME) as a dict.

    ``base_dir`` holds parsers/ (scripts named by path); ``data_dir`` is where the
    embedded defaults keep their files (runs, spool, environments, heartbeats)."""
    base_dir, data_dir = Path(base_dir), Path(data_dir)
    # Public base URL used in e-mails and API "url" fields when no request is at hand.
    PARSEQ_BASE_URL = env_str(
        "PARSEQ_BASE_URL", f"http://127.0.0.1:{env_str('PORT', '8000')}"
    ).rstrip("/")
    # Serve downloads from S3 as a redirect to a presigned URL (False: stream through Django).
    PARSEQ_DOWNLOAD_REDIRECT = env_bool("PARSEQ_DOWNLOAD_REDIRECT", True)
    # GET /metrics: off unless PARSEQ_METRICS=1; open to the bearer token or these addresses.
    PARSEQ_METRICS = metrics_on()
    PARSEQ_METRICS_TOKEN = env_str("PARSEQ_METRICS_TOKEN")
    PARSEQ_METRICS_ALLOW = env_networks("PARSEQ_METRICS_ALLOW", ["127.0.0.1", "::1"])
    # Each worker host serves Dramatiq's metrics here (with PARSEQ_METRICS=1; 0 = not at all).
    PARSEQ_WORKER_METRICS_PORT = worker_metrics_port()
    PARSEQ_HEARTBEAT_DIR = data_dir / "heartbeats"
    # RabbitMQ (amqp://…); unset: the in-process broker (dramatiq_broker()).
    PARSEQ_BROKER_URL = broker_url()
    # RabbitMQ priority levels of the queues (x-max-priority; 0 = none): runs of a higher
    # priority (Django's task API) are delivered first. RabbitMQ cannot change a queue's
    # arguments: set it before the queues exist, or delete them (they refill from the
    # database's queued runs by the scheduler's re-send).
    PARSEQ_BROKER_MAX_PRIORITY = broker_max_priority()
    # Triggers over HTTP and the API (per user or address): DRF's rate syntax.
    PARSEQ_TRIGGER_THROTTLE = env_str("PARSEQ_TRIGGER_THROTTLE", "120/min")
    # Fernet keys for job secrets, comma-separated, newest first; empty = derived from
    # SECRET_KEY (Parseq's own settings add the embedded generated key).
    PARSEQ_SECRETS_KEY = env_str("PARSEQ_SECRETS_KEY")
    # Scripts a job names by path (Job.script_path) and POST /api/v1/scripts/<path> runs; seed
    # 003's SCRIPTS_DIR and the earlier PARSEQ_PARSERS_DIR are accepted too.
    PARSEQ_SCRIPTS_DIR = Path(
        env_str(env_first("PARSEQ_SCRIPTS_DIR", "SCRIPTS_DIR", "PARSEQ_PARSERS_DIR"))
        or base_dir / "parsers"
    )
    # POST /api/v1/scripts/<path> waits this long for the run (seed 003), then cancels it.
    MAX_SCRIPT_EXECUTION_TIME = env_int("MAX_SCRIPT_EXECUTION_TIME", 300, minimum=1)
    PARSEQ_WORK_DIR = Path(env_str("PARSEQ_WORK_DIR", str(data_dir / "runs")))
    PARSEQ_MAX_SCRIPT_BYTES = env_int("PARSEQ_MAX_SCRIPT_BYTES", 1024 * 1024, minimum=1)
    PARSEQ_DEFAULT_TIMEOUT = env_int("PARSEQ_DEFAULT_TIMEOUT", 3600, minimum=1)
    PARSEQ_KILL_GRACE = env_int("PARSEQ_KILL_GRACE", 5, minimum=0)
    PARSEQ_LOG_LIMIT_BYTES = env_int("PARSEQ_LOG_LIMIT_BYTES", 10 * 1024 * 1024, minimum=1024)
    PARSEQ_HEARTBEAT_SECONDS = env_int("PARSEQ_HEARTBEAT_SECONDS", 2, minimum=1)
    PARSEQ_MAX_RUNNING = env_int("PARSEQ_MAX_RUNNING", 0, minimum=0)  # 0 = no global cap
    # Scheduler: a slot later than the grace when reached counts as missed (misfire policy).
    PARSEQ_MISFIRE_GRACE_SECONDS = env_int("PARSEQ_MISFIRE_GRACE_SECONDS", 60, minimum=0)
    PARSEQ_CATCH_UP_LIMIT = env_int("PARSEQ_CATCH_UP_LIMIT", 10, minimum=1)
    PARSEQ_MISSED_ROWS_LIMIT = env_int("PARSEQ_MISSED_ROWS_LIMIT", 100, minimum=1)
    PARSEQ_SCHEDULER_BATCH = env_int("PARSEQ_SCHEDULER_BATCH", 500, minimum=1)
    # Job controls (README "Job controls"). Resource limits a job does not set itself;
    # 0 = unlimited. Memory is address space (RLIMIT_AS), CPU is CPU seconds (RLIMIT_CPU).
    PARSEQ_MEMORY_LIMIT_MB = env_int("PARSEQ_MEMORY_LIMIT_MB", 2048, minimum=0)
    PARSEQ_CPU_LIMIT_SECONDS = env_int("PARSEQ_CPU_LIMIT_SECONDS", 3600, minimum=0)
    PARSEQ_OUTPUT_LIMIT_BYTES = env_int("PARSEQ_OUTPUT_LIMIT_BYTES", 1024 * 1024 * 1024, minimum=0)
    # Run e-mails: output files up to this many bytes in total are attached, larger ones linked;
    # a failed send is retried by the scheduler after RETRY_SECONDS × attempts, MAX_ATTEMPTS times.
    PARSEQ_NOTIFY_ATTACH_BYTES = env_int("PARSEQ_NOTIFY_ATTACH_BYTES", 5 * 1024 * 1024, minimum=0)
    PARSEQ_NOTIFY_RETRY_SECONDS = env_int("PARSEQ_NOTIFY_RETRY_SECONDS", 60, minimum=1)
    PARSEQ_NOTIFY_MAX_ATTEMPTS = env_int("PARSEQ_NOTIFY_MAX_ATTEMPTS", 10, minimum=1)
    # The run e-mail's subject: job (name), slug, run (id), status, attempt.
    PARSEQ_MAIL_SUBJECT = env_template(
        "PARSEQ_MAIL_SUBJECT",
        "[Parseq] {job}: run #{run} {status}",
        ("job", "slug", "run", "status", "attempt"),
    )
    # The scheduler deletes finished runs older than this many days, once a day; 0 = keep all.
    PARSEQ_RETENTION_DAYS = env_int("PARSEQ_RETENTION_DAYS", 0, minimum=0)
    # REST API: the file storage API's upload limit (bigger → 413) and accepted extensions
    # ("*" accepts any), the lifetime of presigned S3 download URLs, and whether the OpenAPI
    # schema and docs are readable without logging in.
    PARSEQ_FILE_MAX_BYTES = env_int(
        env_first("PARSEQ_FILE_MAX_BYTES", "MAX_FILE_SIZE"), 100 * 1024 * 1024, minimum=1
    )
    PARSEQ_FILE_EXTENSIONS = env_list(
        "PARSEQ_FILE_EXTENSIONS",
        ".csv,.tsv,.txt,.json,.jsonl,.xml,.html,.md,.yaml,.yml,.xlsx,.xls,.ods,.pdf,"
        ".zip,.gz,.tar.gz,.parquet,.png,.jpg,.jpeg,.gif".split(","),
    )
    PARSEQ_DOWNLOAD_URL_SECONDS = env_int("PARSEQ_DOWNLOAD_URL_SECONDS", 300, minimum=1)
    PARSEQ_API_DOCS_PUBLIC = env_bool("PARSEQ_API_DOCS_PUBLIC", True)
    # Queues a worker consumes when started without --queues (`rundramatiq --queues heavy`
    # consumes only "heavy"). A job's `queue` field picks one of these pools.
    PARSEQ_QUEUES = env_list("PARSEQ_QUEUES", ["default"])
    # On SIGTERM a worker takes no new runs, lets running ones finish for this many
    # seconds, then stops them (recorded as failed: "worker shut down").
    PARSEQ_SHUTDOWN_GRACE = env_int("PARSEQ_SHUTDOWN_GRACE", 30, minimum=0)
    # A worker retries its database writes (claim, heartbeat, final state) this long
    # while the database is unreachable, backing off up to 5 s between attempts.
    PARSEQ_DB_RETRY_SECONDS = env_int("PARSEQ_DB_RETRY_SECONDS", 300, minimum=0)
    # Outputs that could not be uploaded (storage unreachable) wait here on the worker
    # host; the worker retries the upload every PARSEQ_SPOOL_RETRY_SECONDS.
    PARSEQ_SPOOL_DIR = Path(env_str("PARSEQ_SPOOL_DIR", str(data_dir / "spool")))
    PARSEQ_SPOOL_RETRY_SECONDS = env_int("PARSEQ_SPOOL_RETRY_SECONDS", 30, minimum=1)
    # The scheduler re-sends a queued run whose message is this old (or was never sent:
    # broker down at trigger time). A duplicate is harmless; the worker's claim dedupes.
    PARSEQ_RESEND_AFTER_SECONDS = env_int("PARSEQ_RESEND_AFTER_SECONDS", 30, minimum=1)
    # A message RabbitMQ confirmed is durable: re-send it only after this long (a safety
    # net), so a long backlog is not multiplied by re-sends.
    PARSEQ_RESEND_SENT_AFTER_SECONDS = env_int("PARSEQ_RESEND_SENT_AFTER_SECONDS", 600, minimum=1)
    # Start scripts by forking a pre-started, pre-imported interpreter (worker/runner/forkserver.py):
    # same isolation (own process group, clean env, rlimits, lifeline), ~10x faster start.
    PARSEQ_FORK_SERVER = env_bool("PARSEQ_FORK_SERVER", True)
    # Per-script environments (scripts_app/environments/): PEP 723 metadata or a job's
    # `requirements`, locked with uv at upload, built once per lock under PARSEQ_ENV_CACHE
    # (uv's own cache beside them, so files are hard-linked), least recently used evicted
    # over PARSEQ_ENV_CACHE_MAX_MB. Index settings may carry credentials: they reach uv
    # through its environment only, never a lock, a log or a command line.
    PARSEQ_ENV_CACHE = Path(env_str("PARSEQ_ENV_CACHE", str(data_dir / "envs")))
    PARSEQ_ENV_CACHE_MAX_MB = env_int("PARSEQ_ENV_CACHE_MAX_MB", 5120, minimum=1)
    PARSEQ_PIP_INDEX_URL = env_str("PARSEQ_PIP_INDEX_URL")  # "none": find-links only
    PARSEQ_PIP_EXTRA_INDEX_URL = env_list("PARSEQ_PIP_EXTRA_INDEX_URL", [])
    PARSEQ_PIP_FIND_LINKS = env_list("PARSEQ_PIP_FIND_LINKS", [])
    PARSEQ_ENV_LOCK_TIMEOUT = env_int("PARSEQ_ENV_LOCK_TIMEOUT", 60, minimum=1)
    PARSEQ_ENV_BUILD_TIMEOUT = env_int("PARSEQ_ENV_BUILD_TIMEOUT", 900, minimum=1)
    # Wheels only by default: building a source distribution runs its code at upload.
    PARSEQ_ENV_ALLOW_SDISTS = env_bool("PARSEQ_ENV_ALLOW_SDISTS", False)
    # Warm fork servers per worker process for recently used environments; idle ones retire.
    PARSEQ_ENV_FORK_SERVERS = env_int("PARSEQ_ENV_FORK_SERVERS", 4, minimum=0)
    PARSEQ_ENV_FORK_SERVER_IDLE = env_int("PARSEQ_ENV_FORK_SERVER_IDLE", 600, minimum=1)
    # Mark Parseq processes non-dumpable so scripts cannot read their /proc/<pid>/environ.
    PARSEQ_HIDE_PROCESS_ENV = env_bool("PARSEQ_HIDE_PROCESS_ENV", True)
    # The sandbox of uploaded scripts (scripts_app/worker/sandboxing.py): bubblewrap when a
    # probe at worker start says it works ("auto"), required ("bwrap": the worker refuses to
    # start without it) or not used ("off"). A root worker runs scripts as PARSEQ_SCRIPT_USER
    # (inside the sandbox too); "root" keeps them root, which only makes sense sandboxed.
    PARSEQ_SANDBOX = env_choice("PARSEQ_SANDBOX", ("auto", "bwrap", "off"), "auto")
    PARSEQ_SCRIPT_USER = env_str("PARSEQ_SCRIPT_USER", "nobody")

    # Every name assigned above is a setting: hand them all over at once.
    return {
        name: value
        for name, value in locals().items()
        if name.startswith("PARSEQ_") or name == "MAX_SCRIPT_EXECUTION_TIME"
    }


# The settings the broker setting needs too, read by one reader each: DRAMATIQ_BROKER is
# built while the settings module runs, before django.conf.settings has them.
def broker_url() -> str:
    return env_url("PARSEQ_BROKER_URL", ("amqp", "amqps"))


def broker_max_priority() -> int:
    return min(env_int("PARSEQ_BROKER_MAX_PRIORITY", 0, minimum=0), 255)  # RabbitMQ's most


def metrics_on() -> bool:
    return env_bool("PARSEQ_METRICS", False)


def worker_metrics_port() -> int:
    return env_int("PARSEQ_WORKER_METRICS_PORT", 9191, minimum=0)


def dramatiq_broker(url: str | None = None, *, metrics: bool | None = None) -> dict[str, Any]:
    """The DRAMATIQ_BROKER setting: RabbitMQ with publisher confirms when a broker URL is
    set (argument or PARSEQ_BROKER_URL), else the in-process broker, whose worker feeds
    itself from the database (LocalRelay), where every run is recorded before it is sent."""
    url = broker_url() if url is None else url
    if metrics is None:
        metrics = metrics_on() and bool(worker_metrics_port())
    middleware = [*WORKER_MIDDLEWARE, *([WORKER_METRICS] if metrics else [])]
    if url:
        options = {"url": url, "confirm_delivery": True}
        if levels := broker_max_priority():
            options["max_priority"] = levels
        return {
            "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
            "OPTIONS": options,
            "MIDDLEWARE": middleware,
        }
    return {
        "BROKER": "scripts_app.broker.LocalBroker",
        "OPTIONS": {},
        "MIDDLEWARE": [*middleware, LOCAL_RELAY],
    }


def apply_defaults(settings: Any) -> None:
    """Give a host project every Parseq setting it does not set itself."""
    base_dir = Path(getattr(settings, "BASE_DIR", None) or os.getcwd())
    data_dir = Path(getattr(settings, "PARSEQ_DATA_DIR", None) or base_dir / "var")
    for name, value in parseq_settings(base_dir, data_dir).items():
        if not hasattr(settings, name):
            setattr(settings, name, value)
    if not hasattr(settings, "DRAMATIQ_BROKER"):
        settings.DRAMATIQ_BROKER = dramatiq_broker()
