"""Beat jobs that put the files app back in order after a crash or an outage.

Each is idempotent (running it twice, or on two beat hosts at once, changes
nothing more than running it once) and logs what it did:

- `stored_blobs_sweep`: stored content that no upload refers to any more.
- `file_previews_requeue`: completed files whose preview was never made
  because the message that asked for it was lost (the broker died as the
  worker that validated the file queued it).
- `file_rescans_requeue`: re-scans an operator asked for while the broker
  was down.
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


def _requeued_key(kind: str, upload_id) -> str:
    return f"files:{kind}-requeued:{upload_id}"


def _queue_once_per_period(kind: str, upload_ids, send, period: int) -> int:
    """Send each upload's message at most once per `period` seconds (a mark
    in the cache), so a backed-up queue does not fill with copies; returns
    how many were sent. Sent after the commit and `robust`: with the broker
    still down, the next run tries again."""
    queued = 0
    for upload_id in upload_ids:
        if not cache.add(_requeued_key(kind, upload_id), 1, period) and cache.available():
            continue
        transaction.on_commit(lambda upload_id=upload_id: send(str(upload_id)), robust=True)
        queued += 1
    if queued:
        log.info(f"file_{kind}s_requeued", count=queued)
    return queued


def file_previews_requeue(*, now: datetime | None = None) -> int:
    """Queue the preview of completed files that have none, FILES_PREVIEW_REQUEUE_SECONDS
    after they completed; returns how many were queued.

    A copy that does run finds the preview made, or being made, and returns
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
    return _queue_once_per_period(
        "preview",
        missing,
        lambda upload_id: file_preview_generate_task.delay(upload_id, only_missing=True),
        conf.PREVIEW_REQUEUE_SECONDS,
    )


def file_rescans_requeue(*, now: datetime | None = None) -> int:
    """Queue again the re-scans operators asked for whose message was lost
    (the broker was down): a finished file whose scan is still `pending`
    FILES_RESCAN_REQUEUE_SECONDS after the request. Returns how many.

    Only a re-scan leaves a finished file `pending` (validation records a
    verdict before it finishes the file). A copy that runs after the first
    verdict scans again and records the same kind of verdict."""
    from files.services import RESCANNABLE
    from files.tasks import file_upload_rescan_task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.RESCAN_REQUEUE_SECONDS)
    waiting = (
        FileUpload.objects.filter(status__in=RESCANNABLE, scan_status=ScanStatus.PENDING, updated_at__lt=cutoff)
        .filter(blob__isnull=False)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:1000]
    )
    return _queue_once_per_period("rescan", waiting, file_upload_rescan_task.delay, conf.RESCAN_REQUEUE_SECONDS)
