# Parseq: one slim, non-root image for web (gunicorn), worker and scheduler.
#   docker build -t parseq .
#   docker compose up --scale worker=4
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# requirements.txt includes uv: the image ships the binary that locks and builds
# per-script environments (scripts_app/environments/); nothing else is downloaded.
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim
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
# Static files are collected at build time and served by whitenoise from gunicorn.
RUN DEBUG=1 python manage.py collectstatic --no-input -v0
USER parseq
VOLUME ["/var/lib/parseq"]
EXPOSE 8000
# Health checks are per service in docker-compose.yml: GET /readyz for web,
# `manage.py healthcheck --worker|--scheduler` for the others. Logs are JSON lines.
CMD ["sh", "-c", "exec gunicorn parseq.wsgi:application --config python:parseq.gunicorn --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --threads 4 --graceful-timeout 30"]
