# Parseq: one slim, non-root image for web (gunicorn), worker and scheduler.
#   docker build -t parseq .
#   docker compose up --scale worker=4
# Debian bookworm, pinned: PGDG (below) publishes pg_dump per Debian release.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# requirements.txt includes uv: the image ships the binary that locks and builds
# per-script environments (scripts_app/environments/); nothing else is downloaded.
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
# pg_dump for the demo database backup (parsers/db_backup.py) must be of the server's major
# version or newer: docker-compose.yml runs postgres:16, Debian bookworm ships 15, so the
# client comes from PGDG (apt.postgresql.org), added with postgresql-common's own script
# and keyring. Keep PG_MAJOR equal to compose's postgres image (tests/test_compose.py).
ARG PG_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common ca-certificates \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" bubblewrap \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=parseq.settings \
    PARSEQ_DATA_DIR=/var/lib/parseq \
    STATIC_ROOT=/app/staticfiles \
    PARSEQ_LOG_FORMAT=json \
    PORT=8000
RUN groupadd --system --gid 10001 parseq \
    && useradd --system --uid 10001 --gid parseq --home-dir /var/lib/parseq --no-create-home parseq \
    && mkdir -p /var/lib/parseq \
    && chown parseq:parseq /var/lib/parseq
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . /app
# Static files are collected at build time and served by whitenoise from gunicorn. The
# SECRET_KEY only lets the settings load (no key is generated into the image's data dir).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input -v0
USER parseq
VOLUME ["/var/lib/parseq"]
EXPOSE 8000
# Health checks are per service in docker-compose.yml: GET /readyz for web,
# `manage.py healthcheck --worker|--scheduler` for the others. Logs are JSON lines.
CMD ["sh", "-c", "exec gunicorn parseq.wsgi:application --config python:parseq.gunicorn --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --threads 4 --graceful-timeout 30"]
