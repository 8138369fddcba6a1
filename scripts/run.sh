#!/usr/bin/env bash
# Runs the whole platform: migrate, make sure an admin exists, collect static
# files, then gunicorn + a Celery worker with beat, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
bin=.venv/bin

# A stable secret per checkout, so sessions survive restarts.
if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
  [ -s var/secret_key ] || "$bin/python" -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
  export DJANGO_SECRET_KEY="$(cat var/secret_key)"
fi
# Local runs speak plain http; set DJANGO_HTTPS=1 behind TLS.
export DJANGO_HTTPS="${DJANGO_HTTPS:-0}"
port="${PORT:-8000}"

"$bin/python" manage.py migrate --noinput -v0
"$bin/python" manage.py collectstatic --noinput -v0

if [ -z "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
  [ -s var/admin_password ] || "$bin/python" -c "import secrets; print(secrets.token_urlsafe(12))" > var/admin_password
  export DJANGO_SUPERUSER_PASSWORD="$(cat var/admin_password)"
fi
export DJANGO_SUPERUSER_USERNAME="${DJANGO_SUPERUSER_USERNAME:-admin}"
export DJANGO_SUPERUSER_EMAIL="${DJANGO_SUPERUSER_EMAIL:-admin@localhost}"
"$bin/python" manage.py createsuperuser --noinput >/dev/null 2>&1 || true

cat <<MSG

  Aggregator is starting on http://127.0.0.1:$port/
  Operator console: http://127.0.0.1:$port/admin/   user: $DJANGO_SUPERUSER_USERNAME   password: $DJANGO_SUPERUSER_PASSWORD
  API docs:         http://127.0.0.1:$port/api/docs/

MSG
export PORT="$port"
# Web and worker processes share one folder for Prometheus samples, so a
# scrape adds up every process (see docs/HEALTH.md).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
exec "$bin/honcho" start -f Procfile
