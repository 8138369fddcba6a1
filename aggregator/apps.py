from functools import partial

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AggregatorConfig(AppConfig):
    name = "aggregator"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from aggregator import cache, models
        from aggregator.beat import SCHEDULES, install_schedules
        from aggregator.console.groups import on_post_migrate

        post_migrate.connect(partial(install_schedules, SCHEDULES), sender=self, weak=False)
        # One scope for all five: a pipeline's response shows its connectors
        # and template, so a write to any of them can change another's.
        cache.invalidate_on_write(
            "core",
            [
                models.Pipeline,
                models.Connector,
                models.Transformation,
                models.PipelineTemplate,
                models.TransformationFunction,
            ],
        )
        post_migrate.connect(on_post_migrate, sender=self, weak=False)
        from aggregator.authentication import connect_invalidation

        connect_invalidation()

        # Every admin module is loaded by now (django.contrib.admin is first).
        from django.contrib import admin

        from aggregator.console.policy import require_change_for_undeclared_actions

        require_change_for_undeclared_actions(admin.site)
