from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Task outcome metrics are counted wherever tasks run.
        from health.metrics import celery_signals  # noqa: F401
