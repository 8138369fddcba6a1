import os
from pathlib import Path

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Task outcome metrics are counted wherever tasks run.
        from health.metrics import celery_signals  # noqa: F401

        # A process started with PROMETHEUS_MULTIPROC_DIR (a Celery worker
        # sharing gunicorn's folder, say) writes its first sample there.
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
