FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=aggregator.settings
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 aggregator
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=aggregator:aggregator . .
# collectstatic needs a key to import settings; it is not used at run time.
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput

USER aggregator
ENV AGG_VAR_DIR=/app/var
RUN mkdir -p /app/var
EXPOSE 8000
# The same image runs the worker: `celery -A aggregator worker` (and `beat`).
CMD ["gunicorn", "-c", "health/gunicorn_conf.py", "aggregator.wsgi", "--bind", "0.0.0.0:8000"]
