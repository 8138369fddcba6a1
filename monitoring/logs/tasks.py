"""Celery tasks of the logs half: thin wrappers around monitoring.logs.archives.

Names matter: "monitoring.*archive*" routes them to the archives queue.
"""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.logs import archives, conf
from monitoring.models import LogArchive


@shared_task(acks_late=True, autoretry_for=(archives.ArchiveVerificationFailed,), retry_backoff=60, max_retries=3)
def log_archive_task(cutoff: str | None = None) -> list[int]:
    """Archive lines older than `cutoff` (ISO 8601), by default older than
    LOG_ARCHIVE_AFTER_DAYS; the nightly beat job calls it without one."""
    moment = parse_datetime(cutoff) if cutoff else None
    if moment is None:
        moment = timezone.now() - timedelta(days=conf.ARCHIVE_AFTER_DAYS)
    return archives.log_archive_older_than(cutoff=moment)


@shared_task(acks_late=True)
def log_archive_cleanup_task() -> int:
    return archives.log_archive_cleanup(now=timezone.now())


@shared_task(acks_late=True)
def log_archive_restore_task(archive_id: int) -> int | None:
    archive = LogArchive.objects.filter(pk=archive_id, status=LogArchive.Status.COMPLETE).first()
    if archive is None:
        return None
    return archives.log_archive_restore(archive=archive).restored_count
