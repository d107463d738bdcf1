"""Settings come from the environment; a bad value stops the process at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from scripts_app.envvars import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_url,
)

ROOT = Path(__file__).resolve().parent.parent


def test_it_reads_booleans_in_the_usual_spellings(monkeypatch):
    for word, expected in [("1", True), ("Yes", True), ("on", True), ("0", False), ("off", False)]:
        monkeypatch.setenv("FLAG", word)
        assert env_bool("FLAG") is expected


def test_it_rejects_a_boolean_it_cannot_read(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG")


def test_it_rejects_integers_that_are_not_numbers_or_too_small(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("EMAIL_PORT", 25)
    monkeypatch.setenv("EMAIL_PORT", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 1"):
        env_int("EMAIL_PORT", 25, minimum=1)


def test_an_unset_or_empty_integer_takes_its_default(monkeypatch):
    monkeypatch.delenv("EMAIL_PORT", raising=False)
    assert env_int("EMAIL_PORT", 25) == 25
    monkeypatch.setenv("EMAIL_PORT", " ")
    assert env_int("EMAIL_PORT", 25) == 25


def test_it_splits_lists_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example , ,b.example,")
    assert env_list("ALLOWED_HOSTS") == ["a.example", "b.example"]


def test_it_rejects_a_choice_outside_the_allowed_ones(monkeypatch):
    monkeypatch.setenv("AWS_S3_ADDRESSING_STYLE", "sideways")
    with pytest.raises(ImproperlyConfigured, match="auto, path, virtual"):
        env_choice("AWS_S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "path")


def test_it_rejects_urls_with_the_wrong_scheme_or_no_host(monkeypatch):
    monkeypatch.setenv("PARSEQ_BROKER_URL", "redis://localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="amqp://"):
        env_url("PARSEQ_BROKER_URL", ("amqp", "amqps"))
    monkeypatch.setenv("PARSEQ_BROKER_URL", "amqp://")
    with pytest.raises(ImproperlyConfigured, match="with a host"):
        env_url("PARSEQ_BROKER_URL", ("amqp", "amqps"))


def test_it_turns_a_database_url_into_a_postgresql_entry():
    entry = database_from_url("postgres://app:p%40ss@db.internal:6432/parseq?sslmode=require")
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["USER"], entry["PASSWORD"], entry["HOST"], entry["PORT"], entry["NAME"]) == (
        "app",
        "p@ss",
        "db.internal",
        "6432",
        "parseq",
    )
    assert entry["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "scheme 'mysql' is not supported"),
        ("postgres://u@h:5432/", "names no database"),
        ("postgres://u@h:port/db", "bad port"),
    ],
)
def test_it_rejects_database_urls_it_cannot_use(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url)


# --- the settings module as a deployment sees it (a fresh process per environment) ---

PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "broker": settings.DRAMATIQ_BROKER["BROKER"],
    "broker_options": settings.DRAMATIQ_BROKER["OPTIONS"],
    "storage": settings.STORAGES["default"]["BACKEND"],
    "endpoint": getattr(settings, "AWS_S3_ENDPOINT_URL", None),
    "hosts": settings.ALLOWED_HOSTS,
    "origins": settings.CSRF_TRUSTED_ORIGINS,
    "queues": settings.PARSEQ_QUEUES,
    "email": [settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS],
}))
"""


def load_settings(tmp_path, probe: str = PROBE, **env: str) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "PARSEQ_DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_without_any_setting_it_uses_the_embedded_defaults(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["db"] == "django.db.backends.sqlite3"
    assert seen["broker"] == "scripts_app.broker.LocalBroker"
    assert seen["storage"] == "django.core.files.storage.FileSystemStorage"
    assert seen["queues"] == ["default"]


def test_with_a_database_url_it_refuses_to_start_without_a_secret_key(tmp_path):
    result = load_settings(tmp_path, DATABASE_URL="postgres://parseq:pw@db:5432/parseq")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL is set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_variables_select_postgresql_rabbitmq_and_s3(tmp_path):
    result = load_settings(
        tmp_path,
        SECRET_KEY="s3cret",
        DATABASE_URL="postgres://parseq:pw@db:5432/parseq",
        PARSEQ_BROKER_URL="amqp://parseq:pw@rabbit:5672/%2F",
        AWS_STORAGE_BUCKET_NAME="parseq",
        AWS_S3_ENDPOINT_URL="http://minio:9000",
        ALLOWED_HOSTS="parseq.example.com",
        CSRF_TRUSTED_ORIGINS="https://parseq.example.com",
        PARSEQ_QUEUES="default,heavy",
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_USE_TLS="true",
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["db"] == "django.db.backends.postgresql"
    assert seen["broker"] == "dramatiq.brokers.rabbitmq.RabbitmqBroker"
    assert seen["broker_options"]["confirm_delivery"] is True
    assert seen["storage"] == "storages.backends.s3.S3Storage"
    assert seen["endpoint"] == "http://minio:9000"
    assert seen["hosts"] == ["parseq.example.com"]
    assert seen["origins"] == ["https://parseq.example.com"]
    assert seen["queues"] == ["default", "heavy"]
    assert seen["email"] == ["smtp.example.com", 587, True]


def test_a_mistyped_setting_stops_start_up_with_its_name(tmp_path):
    result = load_settings(tmp_path, PARSEQ_BROKER_URL="amqp//rabbit")
    assert result.returncode != 0
    assert "PARSEQ_BROKER_URL='amqp//rabbit'" in result.stderr


def test_a_mail_subject_template_with_an_unknown_field_stops_start_up(tmp_path):
    result = load_settings(tmp_path, PARSEQ_MAIL_SUBJECT="{job} {when}")
    assert result.returncode != 0
    assert "PARSEQ_MAIL_SUBJECT='{job} {when}' is not a template of {job}, {slug}" in result.stderr


SEED_NAMES = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "scripts": str(settings.PARSEQ_SCRIPTS_DIR),
    "max_file": settings.PARSEQ_FILE_MAX_BYTES,
    "uploads": str(settings.MEDIA_ROOT),
    "max_time": settings.MAX_SCRIPT_EXECUTION_TIME,
    "level": settings.LOG_LEVEL,
}))
"""


def seed_settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return load_settings(tmp_path, SEED_NAMES, **env)


def test_seed_003s_setting_names_work_as_aliases(tmp_path):
    result = seed_settings(
        tmp_path,
        SCRIPTS_DIR="/srv/scripts",
        MAX_FILE_SIZE="1234",
        UPLOADS_DIR="/srv/uploads",
        MAX_SCRIPT_EXECUTION_TIME="60",
        LOG_LEVEL="warning",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "scripts": "/srv/scripts",
        "max_file": 1234,
        "uploads": "/srv/uploads",
        "max_time": 60,
        "level": "warning",
    }


def test_parseqs_own_names_win_over_the_seeds_aliases(tmp_path):
    result = seed_settings(
        tmp_path,
        PARSEQ_SCRIPTS_DIR="/srv/ours",
        SCRIPTS_DIR="/srv/theirs",
        PARSEQ_FILE_MAX_BYTES="10",
        MAX_FILE_SIZE="20",
        MEDIA_ROOT="/srv/media",
        UPLOADS_DIR="/srv/uploads",
    )
    seen = json.loads(result.stdout)
    assert (seen["scripts"], seen["max_file"], seen["uploads"]) == ("/srv/ours", 10, "/srv/media")


def test_the_defaults_are_the_seeds_defaults(tmp_path):
    seen = json.loads(seed_settings(tmp_path).stdout)
    assert seen["scripts"] == str(ROOT / "parsers")
    assert (seen["max_file"], seen["max_time"], seen["level"]) == (100 * 1024 * 1024, 300, "INFO")


def test_a_bad_alias_value_is_reported_under_its_own_name(tmp_path):
    result = seed_settings(tmp_path, MAX_FILE_SIZE="lots")
    assert result.returncode != 0
    assert "MAX_FILE_SIZE='lots' is not an integer" in result.stderr


ENV_PROBE = """
import json
from django.conf import settings
print(json.dumps([str(settings.PARSEQ_ENV_CACHE), settings.PARSEQ_ENV_CACHE_MAX_MB,
                  settings.PARSEQ_PIP_INDEX_URL, settings.PARSEQ_PIP_EXTRA_INDEX_URL,
                  settings.PARSEQ_PIP_FIND_LINKS]))
"""


def test_environment_settings_default_under_the_data_dir_and_read_index_lists(tmp_path):
    def probe(**env: str) -> subprocess.CompletedProcess:
        clean = {"PATH": os.environ.get("PATH", ""), "DEBUG": "1", "PARSEQ_DATA_DIR": str(tmp_path)}
        clean["DJANGO_SETTINGS_MODULE"] = "parseq.settings"
        return subprocess.run([sys.executable, "-c", ENV_PROBE], cwd=ROOT,
                              env={**clean, **env}, capture_output=True, text=True)  # fmt: skip

    default = probe()
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout) == [str(tmp_path / "envs"), 5120, "", [], []]
    given = probe(
        PARSEQ_ENV_CACHE="/srv/envs",
        PARSEQ_ENV_CACHE_MAX_MB="100",
        PARSEQ_PIP_INDEX_URL="https://u:t@pypi.internal/simple",
        PARSEQ_PIP_EXTRA_INDEX_URL="https://a.example/simple,https://b.example/simple",
        PARSEQ_PIP_FIND_LINKS="/wheels",
    )
    assert json.loads(given.stdout) == [
        "/srv/envs",
        100,
        "https://u:t@pypi.internal/simple",
        ["https://a.example/simple", "https://b.example/simple"],
        ["/wheels"],
    ]
    refused = probe(PARSEQ_ENV_CACHE_MAX_MB="lots")
    assert refused.returncode != 0 and "PARSEQ_ENV_CACHE_MAX_MB='lots'" in refused.stderr
