from functools import partial

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from aggregator.beat import install_schedules
        from monitoring.alerts.beat import SCHEDULES as ALERT_SCHEDULES
        from monitoring.logs import setup as logs_setup

        logs_setup.ready(self)
        post_migrate.connect(partial(install_schedules, ALERT_SCHEDULES), sender=self, weak=False)
