"""Beat jobs that put the files app back in order after a crash or an outage.

Each is idempotent (running it twice, or on two beat hosts at once, changes
nothing more than running it once) and logs what it did:

- `stored_blobs_sweep`: stored content that no upload refers to any more.
- `file_previews_requeue`: completed files whose preview was never made
  because the message that asked for it was lost (the broker died as the
  worker that validated the file queued it).
"""

from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from aggregator import cache
from files import conf, storage
from files.models import FileStatus, FileUpload, ScanStatus, StoredBlob

log = structlog.get_logger(__name__)

# Names checked against the database per query while walking storage.
_NAMES_PER_QUERY = 500


def stored_blobs_sweep(*, now: datetime | None = None) -> int:
    """Remove stored content no FileUpload refers to, once it is older than
    FILES_BLOB_ORPHAN_GRACE_SECONDS; returns how many were removed.

    Two kinds are found: a `StoredBlob` row no upload points to (its upload
    rows were removed without the delete service), and bytes in storage that
    no `StoredBlob` names (a crash between storing the bytes and committing
    the row, or between committing a delete and removing the bytes). The
    grace keeps an upload that is being finished right now out of reach:
    its bytes are stored a moment before its row commits."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.BLOB_ORPHAN_GRACE_SECONDS)
    rows = _sweep_unreferenced_rows(cutoff)
    files = _sweep_unnamed_files(cutoff)
    if rows or files:
        log.info("stored_blobs_swept", rows=rows, files=files, count=rows + files)
    return rows + files


def _sweep_unreferenced_rows(cutoff: datetime) -> int:
    candidates = (
        StoredBlob.objects.filter(created_at__lt=cutoff, uploads__isnull=True).values_list("pk", flat=True).iterator()
    )
    removed = 0
    for blob_id in candidates:
        with transaction.atomic():
            # Locked, then checked again: an upload of the same content that
            # links this blob (it locks the row too) either committed first,
            # and the blob stays, or finds it gone and stores the bytes anew.
            blob = StoredBlob.objects.select_for_update().filter(pk=blob_id).first()
            if blob is None or FileUpload.objects.filter(blob_id=blob_id).exists():
                continue
            name = blob.storage_name
            blob.delete()
            transaction.on_commit(lambda name=name: storage.delete_stored(name))
        removed += 1
    return removed


def _sweep_unnamed_files(cutoff: datetime) -> int:
    removed = 0
    for folder in storage.stored_names_by_folder():
        for start in range(0, len(folder), _NAMES_PER_QUERY):
            names = folder[start : start + _NAMES_PER_QUERY]
            known = set(StoredBlob.objects.filter(storage_name__in=names).values_list("storage_name", flat=True))
            for name in names:
                if name in known:
                    continue
                changed_at = storage.stored_changed_at(name)
                if changed_at is None or changed_at >= cutoff:
                    continue
                storage.delete_stored(name)
                removed += 1
    return removed


def _requeued_key(upload_id) -> str:
    return f"files:preview-requeued:{upload_id}"


def file_previews_requeue(*, now: datetime | None = None) -> int:
    """Queue the preview of completed files that have none, FILES_PREVIEW_REQUEUE_SECONDS
    after they completed; returns how many were queued.

    Each file is queued at most once per that period (a mark in the cache),
    so a backed-up queue does not fill with copies; a copy that does run
    finds the preview made, or being made, and returns
    (`file_preview_after_validation`, `only_missing`)."""
    from files.processing_tasks import file_preview_generate_task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.PREVIEW_REQUEUE_SECONDS)
    missing = (
        FileUpload.objects.filter(status=FileStatus.COMPLETED, preview__isnull=True, updated_at__lt=cutoff)
        .filter(blob__isnull=False, blob__quarantined=False)
        .exclude(scan_status=ScanStatus.INFECTED)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:1000]
    )
    queued = 0
    for upload_id in missing:
        if not cache.add(_requeued_key(upload_id), 1, conf.PREVIEW_REQUEUE_SECONDS) and cache.available():
            continue
        # robust: with the broker still down, the next run tries again.
        transaction.on_commit(
            lambda upload_id=upload_id: file_preview_generate_task.delay(str(upload_id), only_missing=True),
            robust=True,
        )
        queued += 1
    if queued:
        log.info("file_previews_requeued", count=queued)
    return queued
