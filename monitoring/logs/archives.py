"""Archiving old log lines to storage, restoring them, and retention.

Crash safety rests on one rule: the rows of an archive are deleted in the
same transaction that marks it COMPLETE, and only after its file has been
written and read back (count and SHA-256) from the storage. Until then the
archive is WRITING, every one of its rows is still in SystemLog, and a retry
simply writes the file again. So a crash at any moment loses nothing and, as
a row is either in the table or in exactly one complete archive, duplicates
nothing.
"""

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.core.cache import cache
from django.core.files.storage import Storage, storages
from django.db import DatabaseError, connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from aggregator.exceptions import Conflict, InvalidInput
from monitoring.logs import conf
from monitoring.logs.archive_files import inspect_archive, read_archive, write_archive
from monitoring.models import LogArchive, SystemLog

logger = structlog.get_logger(__name__)

LOCK_KEY = "monitoring:logs:archive-lock"
LOCK_SECONDS = 30 * 60
# pg_try_advisory_lock key of the archiving run ("LOGA").
ADVISORY_LOCK_ID = 0x4C4F4741
# A row that commits late inside an archive's id range makes the delete count
# differ from the file; the file is then written again, at most this often.
MAX_ATTEMPTS = 3

# Columns written to the files, in order; `user` is the user's id.
COLUMNS = [
    field.attname
    for field in SystemLog._meta.concrete_fields
    if field.name != "restored_from"  # an investigation copy is never archived again
]


class ArchiveVerificationFailed(Exception):
    """The file read back from storage is not what was written."""


def archive_storage() -> Storage:
    return storages[conf.ARCHIVE_STORAGE]


def _archivable(cutoff: datetime) -> QuerySet[SystemLog]:
    return SystemLog.objects.filter(timestamp__lt=cutoff, restored_from__isnull=True)


def log_archive_backlog(*, cutoff: datetime) -> int:
    return _archivable(cutoff).count()


def _archive_rows(archive: LogArchive) -> QuerySet[SystemLog]:
    return _archivable(archive.cutoff).filter(id__gte=archive.first_id, id__lte=archive.last_id)


def _records(archive: LogArchive, bounds: dict[str, datetime]) -> Iterator[dict[str, Any]]:
    """The archive's rows in id order, fetched in keyset batches so memory
    stays bounded however large the range; `bounds` collects the time range."""
    rows = _archive_rows(archive).order_by("id")
    after = archive.first_id - 1
    while True:
        batch = list(rows.filter(id__gt=after).values(*COLUMNS)[: conf.ARCHIVE_FETCH_SIZE])
        if not batch:
            return
        for record in batch:
            moment = record["timestamp"]
            if "start" not in bounds or moment < bounds["start"]:
                bounds["start"] = moment
            if "end" not in bounds or moment > bounds["end"]:
                bounds["end"] = moment
            record["timestamp"] = moment.isoformat()
            record["user"] = record.pop("user_id")
            yield record
        after = batch[-1]["id"]


def _next_archive(*, cutoff: datetime) -> LogArchive | None:
    """Claims the next ARCHIVE_ROWS_PER_FILE archivable rows (by id) as a new WRITING archive."""
    ids = _archivable(cutoff).order_by("id").values_list("id", flat=True)
    first_id = ids.first()
    if first_id is None:
        return None
    last = list(ids.filter(id__gte=first_id)[conf.ARCHIVE_ROWS_PER_FILE - 1 : conf.ARCHIVE_ROWS_PER_FILE])
    last_id = last[0] if last else _archivable(cutoff).aggregate(last=Max("id"))["last"]
    return LogArchive.objects.create(cutoff=cutoff, first_id=first_id, last_id=last_id)


def _delete_rows(archive: LogArchive) -> int:
    # Raw DELETE: QuerySet.delete() would load every row into memory as soon
    # as any app connects a delete signal receiver.
    table = SystemLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(table)} WHERE id >= %s AND id <= %s "
            "AND timestamp < %s AND restored_from_id IS NULL",
            [archive.first_id, archive.last_id, archive.cutoff],
        )
        return cursor.rowcount


def log_archive_write(*, archive: LogArchive) -> LogArchive:
    """Write, verify and complete one WRITING archive (idempotent)."""
    storage = archive_storage()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        name = f"{conf.ARCHIVE_STORAGE_PREFIX}/{archive.cutoff:%Y/%m}/log-archive-{archive.pk:09d}.jsonl.gz"
        bounds: dict[str, datetime] = {}
        written = write_archive(storage, name, _records(archive, bounds))
        if written.count == 0:
            # Nothing left in the range (deleted by hand): no archive to keep.
            storage.delete(written.name)
            archive.delete()
            return archive
        try:
            count, sha256 = inspect_archive(storage, written.name)
        except (OSError, EOFError, zlib.error):
            count, sha256 = -1, ""
        if (count, sha256) != (written.count, written.sha256):
            storage.delete(written.name)
            raise ArchiveVerificationFailed(
                f"archive {archive.pk}: wrote {written.count} lines ({written.sha256}), read back {count} ({sha256})"
            )
        with transaction.atomic():
            locked = LogArchive.objects.select_for_update().get(pk=archive.pk)
            if locked.status == LogArchive.Status.COMPLETE:
                return locked
            deleted = _delete_rows(locked)
            if deleted == written.count:
                now = timezone.now()
                locked.status = LogArchive.Status.COMPLETE
                locked.completed_at = now
                locked.expires_at = now + timedelta(days=conf.ARCHIVE_RETENTION_DAYS)
                locked.start_time = bounds["start"]
                locked.end_time = bounds["end"]
                locked.entry_count = written.count
                locked.original_size = written.original_size
                locked.compressed_size = written.compressed_size
                locked.sha256 = written.sha256
                locked.storage_path = written.name
                locked.save()
                logger.info("log_archive_completed", archive_id=locked.pk, entries=written.count)
                return locked
            transaction.set_rollback(True)
        logger.warning("log_archive_rewrite", archive_id=archive.pk, attempt=attempt, written=written.count)
    raise ArchiveVerificationFailed(f"archive {archive.pk}: rows kept changing while it was written")


@contextmanager
def _single_run() -> Iterator[bool]:
    """Whether this process may archive now (one run at a time).

    On PostgreSQL a session advisory lock, which dies with its connection: a
    worker killed mid-run must not hold the next run back (a cache key did,
    for LOCK_SECONDS, and the redelivered task was skipped and acknowledged).
    Elsewhere (SQLite, one machine) the cache key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_ID])
            allowed = cursor.fetchone()[0]
        try:
            yield allowed
        finally:
            if allowed:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_ID])
                except DatabaseError:
                    pass  # the connection is gone, and the lock with it
        return
    allowed = cache.add(LOCK_KEY, "1", LOCK_SECONDS)
    try:
        yield allowed
    finally:
        if allowed:
            cache.delete(LOCK_KEY)


def log_archive_older_than(*, cutoff: datetime) -> list[int]:
    """Archive every line older than `cutoff`, one file per
    ARCHIVE_ROWS_PER_FILE rows; first finishes archives an earlier run left
    WRITING. Returns the ids of the archives completed. One run at a time."""
    if cutoff > timezone.now():
        raise InvalidInput("The archive cutoff is in the future.")
    with _single_run() as allowed:
        if not allowed:
            logger.info("log_archive_skipped_locked")
            return []
        completed: list[int] = []
        for archive in LogArchive.objects.filter(status=LogArchive.Status.WRITING).order_by("id"):
            done = log_archive_write(archive=archive)
            if done.status == LogArchive.Status.COMPLETE:
                completed.append(done.pk)
        while (archive := _next_archive(cutoff=cutoff)) is not None:
            done = log_archive_write(archive=archive)
            if done.status == LogArchive.Status.COMPLETE:
                completed.append(done.pk)
    logger.info("log_archive_finished", cutoff=cutoff.isoformat(), archives=len(completed))
    return completed


def _restored_row(record: dict[str, Any], archive: LogArchive) -> SystemLog:
    record = dict(record)
    record["user_id"] = record.pop("user", None)
    record["timestamp"] = parse_datetime(record["timestamp"])
    return SystemLog(**{key: value for key, value in record.items() if key in COLUMNS}, restored_from=archive)


def log_archive_restore(*, archive: LogArchive, batch_size: int = 2_000) -> LogArchive:
    """Copy an archive's lines back into SystemLog (marked restored_from, so
    archiving skips them). Rows keep their ids, so restoring again, or after
    a crash half-way, adds only what is missing."""
    if archive.status != LogArchive.Status.COMPLETE:
        raise Conflict("Only a complete archive can be restored.")
    storage = archive_storage()
    try:
        count, sha256 = inspect_archive(storage, archive.storage_path)
    except FileNotFoundError:
        raise Conflict("The archive file is missing from storage.") from None
    except (OSError, EOFError, zlib.error):
        raise Conflict("The archive file is not a readable gzip file; not restoring it.") from None
    if (count, sha256) != (archive.entry_count, archive.sha256):
        raise Conflict("The archive file does not match its checksum; not restoring it.")
    batch: list[SystemLog] = []
    for record in read_archive(storage, archive.storage_path):
        batch.append(_restored_row(record, archive))
        if len(batch) >= batch_size:
            SystemLog.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        SystemLog.objects.bulk_create(batch, ignore_conflicts=True)
    archive.restored_count = SystemLog.objects.filter(restored_from=archive).count()
    archive.restored_at = timezone.now()
    archive.save(update_fields=["restored_count", "restored_at"])
    return archive


def log_archive_cleanup(*, now: datetime) -> int:
    """Delete archives past their expiry: the file first, then the record
    (and any lines restored from it). Safe to repeat after a crash between the two."""
    storage = archive_storage()
    deleted = 0
    expired = LogArchive.objects.filter(status=LogArchive.Status.COMPLETE, expires_at__lt=now).order_by("id")
    for archive in expired.iterator(chunk_size=100):
        if archive.storage_path:
            storage.delete(archive.storage_path)
        archive.delete()
        deleted += 1
    if deleted:
        logger.info("log_archives_deleted", count=deleted)
    return deleted
