"""Parseq settings: every deployment-specific value comes from the environment.

Unset means the embedded default (SQLite, local files, in-process broker), so
``make run`` needs no server. See README "Configuration" for the table.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from parseq import embedded
from scripts_app import conf
from scripts_app.envvars import (
    database_from_url,
    env_bool,
    env_choice,
    env_first,
    env_int,
    env_list,
    env_str,
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

# --- Operations: logs, metrics, heartbeats (README "Operating Parseq") ------
PARSEQ_LOG_FORMAT = env_choice("PARSEQ_LOG_FORMAT", ("console", "json"), "console")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
try:
    LOGGING = logs.logging_config(PARSEQ_LOG_FORMAT, LOG_LEVEL)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# --- Broker (Dramatiq): RabbitMQ with PARSEQ_BROKER_URL, else the in-process broker ---
DRAMATIQ_BROKER = conf.dramatiq_broker()
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scripts_app.api.errors.exception_handler",
}
# The API schema's own settings are the app's (conf.API_SCHEMA, given to the schema view);
# these serve Swagger UI and ReDoc from drf_spectacular_sidecar, with no CDN.
SPECTACULAR_SETTINGS = {
    **conf.API_SCHEMA,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
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
# Every PARSEQ_* setting, read from the environment (scripts_app/conf.py: one list for this
# project and for a host project that installs the app).
globals().update(conf.parseq_settings(BASE_DIR, DATA_DIR))
# Embedded defaults: a generated secrets key (DATA_DIR/secrets_key), then the key of the
# built-in development SECRET_KEY of earlier versions, which only decrypts secrets saved
# back then. (Elsewhere an empty PARSEQ_SECRETS_KEY means "derived from SECRET_KEY".)
if not PARSEQ_SECRETS_KEY and EMBEDDED_KEYS:  # noqa: F821 (set by parseq_settings)
    PARSEQ_SECRETS_KEY = ",".join(
        [
            embedded.kept_key(DATA_DIR / embedded.SECRETS_KEY_FILE, embedded.new_fernet_key),
            derived_key(embedded.LEGACY_DEV_SECRET_KEY).decode(),
        ]
    )
