from celery import shared_task

from search import services


@shared_task(acks_late=True)
def search_reindex_task(types: list[str] | None = None) -> dict[str, int]:
    """Nightly safety net: repairs entries that bulk paths left behind."""
    return services.reindex(types=types)
