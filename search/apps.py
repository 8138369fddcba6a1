from functools import partial

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from aggregator.beat import Schedule, install_schedules

SCHEDULES = [
    # Repairs whatever bulk paths (queryset.update, bulk_create) changed
    # without signals; the index is otherwise kept in step as rows change.
    Schedule(name="search: nightly reindex", task="search.tasks.search_reindex_task", crontab="30 3 * * *"),
]


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from search import providers, signals

        providers.load()
        signals.connect()
        post_migrate.connect(partial(install_schedules, SCHEDULES), sender=self, weak=False)
