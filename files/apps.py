from functools import partial

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FilesConfig(AppConfig):
    name = "files"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from aggregator.beat import install_schedules
        from files.beat import SCHEDULES

        post_migrate.connect(partial(install_schedules, SCHEDULES), sender=self, weak=False)
