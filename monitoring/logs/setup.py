"""What the logs half does when the monitoring app is ready."""

from functools import partial

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from aggregator.beat import Schedule, install_schedules

SCHEDULES = [
    Schedule(name="log archiving (nightly)", task="monitoring.logs.tasks.log_archive_task", crontab="30 2 * * *"),
    Schedule(
        name="log archive retention (nightly)",
        task="monitoring.logs.tasks.log_archive_cleanup_task",
        crontab="15 3 * * *",
    ),
]


def ready(app_config: AppConfig) -> None:
    from monitoring.logs import access

    access.connect()
    post_migrate.connect(partial(install_schedules, SCHEDULES), sender=app_config, weak=False)
