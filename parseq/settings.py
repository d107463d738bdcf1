"""Parseq settings: every deployment-specific value comes from the environment.

Unset means the embedded default (SQLite, local files, in-process broker), so
``make run`` needs no server. See README "Configuration" for the table.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from parseq import embedded
from parseq.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_first,
    env_int,
    env_list,
    env_networks,
    env_str,
    env_template,
    env_url,
    sqlite_database,
)
from scripts_app.jobs.keys import derived_key
from scripts_app.observability import logs

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PARSEQ_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_str("DATABASE_URL")
# Embedded defaults (no DATABASE_URL): keys are generated on the first start and kept in
# DATA_DIR (parseq/embedded.py). A production database needs SECRET_KEY from outside.
SECRET_KEY = env_str("SECRET_KEY")
EMBEDDED_KEYS = not SECRET_KEY and not DATABASE_URL
if not SECRET_KEY:
    if DATABASE_URL:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DATABASE_URL is set (only the embedded defaults "
            "generate one, under PARSEQ_DATA_DIR)"
        )
    SECRET_KEY = embedded.kept_key(DATA_DIR / embedded.SECRET_KEY_FILE, embedded.new_secret_key)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Public base URL used in e-mails and API "url" fields when no request is at hand.
PARSEQ_BASE_URL = env_str("PARSEQ_BASE_URL", f"http://127.0.0.1:{env_str('PORT', '8000')}").rstrip(
    "/"
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "django_structlog",
    "scripts_app",
]

MIDDLEWARE = [
    # /healthz, /readyz, /metrics: before the host check (probes come from pod IPs).
    "scripts_app.observability.probes.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",  # request_id on every request line
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "parseq.urls"
WSGI_APPLICATION = "parseq.wsgi.application"
ASGI_APPLICATION = "parseq.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
if not DATABASE_URL:
    DATA_DIR.mkdir(parents=True, exist_ok=True)  # SQLite needs its folder
DATABASES = {
    "default": database_from_url(DATABASE_URL)
    if DATABASE_URL
    else sqlite_database(str(DATA_DIR / "db.sqlite3"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files --------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
# UPLOADS_DIR: seed 003's name for where the file storage keeps its files (local storage).
MEDIA_ROOT = Path(env_str(env_first("MEDIA_ROOT", "UPLOADS_DIR"), str(DATA_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env_url("AWS_S3_ENDPOINT_URL", ("http", "https")) or None
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
    AWS_S3_ADDRESSING_STYLE = env_choice(
        "AWS_S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "path"
    )
    # Fail fast (and let the worker spool outputs) instead of hanging on a dead endpoint.
    from botocore.config import Config as _S3Config

    AWS_S3_CLIENT_CONFIG = _S3Config(
        s3={"addressing_style": AWS_S3_ADDRESSING_STYLE},
        signature_version="s3v4",
        connect_timeout=env_int("AWS_S3_CONNECT_TIMEOUT", 5, minimum=1),
        read_timeout=env_int("AWS_S3_READ_TIMEOUT", 60, minimum=1),
        retries={"max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3, minimum=1), "mode": "standard"},
    )
    AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 300, minimum=1)
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = False
    DEFAULT_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve downloads from S3 as a redirect to a presigned URL (False: stream through Django).
PARSEQ_DOWNLOAD_REDIRECT = env_bool("PARSEQ_DOWNLOAD_REDIRECT", True)

# --- Operations: logs, metrics, heartbeats (README "Operating Parseq") ------
PARSEQ_LOG_FORMAT = env_choice("PARSEQ_LOG_FORMAT", ("console", "json"), "console")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
try:
    LOGGING = logs.logging_config(PARSEQ_LOG_FORMAT, LOG_LEVEL)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# GET /metrics: off unless PARSEQ_METRICS=1; open to the bearer token or these addresses.
PARSEQ_METRICS = env_bool("PARSEQ_METRICS", False)
PARSEQ_METRICS_TOKEN = env_str("PARSEQ_METRICS_TOKEN")
PARSEQ_METRICS_ALLOW = env_networks("PARSEQ_METRICS_ALLOW", ["127.0.0.1", "::1"])
# Each worker host serves Dramatiq's metrics here (with PARSEQ_METRICS=1; 0 = not at all).
PARSEQ_WORKER_METRICS_PORT = env_int("PARSEQ_WORKER_METRICS_PORT", 9191, minimum=0)
PARSEQ_HEARTBEAT_DIR = DATA_DIR / "heartbeats"

# --- Broker (Dramatiq) ----------------------------------------------------
PARSEQ_BROKER_URL = env_url("PARSEQ_BROKER_URL", ("amqp", "amqps"))
_WORKER_MIDDLEWARE = [
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
if PARSEQ_METRICS and PARSEQ_WORKER_METRICS_PORT:
    _WORKER_MIDDLEWARE.append("scripts_app.observability.worker_metrics.WorkerMetrics")
if PARSEQ_BROKER_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
        "OPTIONS": {"url": PARSEQ_BROKER_URL, "confirm_delivery": True},
        "MIDDLEWARE": _WORKER_MIDDLEWARE,
    }
else:
    # In-process broker: each process has its own; the worker feeds its copy
    # from the database, where every run is recorded before it is sent.
    DRAMATIQ_BROKER = {
        "BROKER": "scripts_app.broker.LocalBroker",
        "OPTIONS": {},
        "MIDDLEWARE": [*_WORKER_MIDDLEWARE, "scripts_app.worker.middleware.LocalRelay"],
    }
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"trigger": env_str("PARSEQ_TRIGGER_THROTTLE", "120/min")},
    "EXCEPTION_HANDLER": "scripts_app.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parseq API",
    "DESCRIPTION": "Run Python scripts as managed jobs; read their results, logs and files.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["scripts_app.api.schema.only_api_v1"],
}

# --- E-mail ---------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "parseq@localhost")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ADMINS = [("Admin", addr) for addr in env_list("PARSEQ_ADMIN_EMAILS", [])]

# --- Parseq ---------------------------------------------------------------
# Scripts a job names by path (Job.script_path) and POST /api/v1/scripts/<path> runs; seed
# 003's SCRIPTS_DIR and the earlier PARSEQ_PARSERS_DIR are accepted too.
PARSEQ_SCRIPTS_DIR = Path(
    env_str(env_first("PARSEQ_SCRIPTS_DIR", "SCRIPTS_DIR", "PARSEQ_PARSERS_DIR"))
    or BASE_DIR / "parsers"
)
# POST /api/v1/scripts/<path> waits this long for the run (seed 003), then cancels it.
MAX_SCRIPT_EXECUTION_TIME = env_int("MAX_SCRIPT_EXECUTION_TIME", 300, minimum=1)
PARSEQ_WORK_DIR = Path(env_str("PARSEQ_WORK_DIR", str(DATA_DIR / "runs")))
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
# Fernet keys for job secrets, comma-separated, newest first; empty = derived from SECRET_KEY.
# Embedded: a generated key (DATA_DIR/secrets_key), then the key of the built-in development
# SECRET_KEY of earlier versions, which only decrypts secrets saved back then.
PARSEQ_SECRETS_KEY = env_str("PARSEQ_SECRETS_KEY")
if not PARSEQ_SECRETS_KEY and EMBEDDED_KEYS:
    PARSEQ_SECRETS_KEY = ",".join(
        [
            embedded.kept_key(DATA_DIR / embedded.SECRETS_KEY_FILE, embedded.new_fernet_key),
            derived_key(embedded.LEGACY_DEV_SECRET_KEY).decode(),
        ]
    )
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
PARSEQ_SPOOL_DIR = Path(env_str("PARSEQ_SPOOL_DIR", str(DATA_DIR / "spool")))
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
PARSEQ_ENV_CACHE = Path(env_str("PARSEQ_ENV_CACHE", str(DATA_DIR / "envs")))
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
