"""Reads of the files app, scoped to what the caller may see. Other apps
(monitoring metrics, search, health) read files only through these."""

from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from files.models import FileStatus, FileUpload, StoredBlob


def file_list_for(*, user, include_deleted: bool = False) -> QuerySet[FileUpload]:
    """Uploads the user may see: their own, or everyone's for staff."""
    queryset = FileUpload.objects.select_related("owner", "pipeline", "blob")
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if not user.is_staff:
        queryset = queryset.filter(owner=user)
    if not include_deleted:
        queryset = queryset.exclude(status=FileStatus.DELETED)
    # hash_state (the running SHA-256 of an unfinished upload, ~120 bytes) is
    # not deferred: Django's defer() builds a select mask over every field
    # on each query, which cost more CPU than the bytes it saves.
    return queryset


def file_get_for(*, user, upload_id) -> FileUpload | None:
    try:
        return file_list_for(user=user).filter(pk=upload_id).first()
    except (ValueError, TypeError):
        return None


def file_counts_by_status() -> dict[str, int]:
    """Every status with its count (zero included), for metrics and health."""
    counts = dict.fromkeys(FileStatus.values, 0)
    for row in FileUpload.objects.values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def files_failed_count(*, since: datetime) -> int:
    return FileUpload.objects.filter(status=FileStatus.FAILED, updated_at__gte=since).count()


def files_stuck_count(*, older_than: timedelta | int | float) -> int:
    """Files that should have moved on by now: VALIDATING or UPLOADED (queued)
    for longer than `older_than` (a timedelta or seconds)."""
    if not isinstance(older_than, timedelta):
        older_than = timedelta(seconds=older_than)
    cutoff = timezone.now() - older_than
    return FileUpload.objects.filter(
        status__in=[FileStatus.VALIDATING, FileStatus.UPLOADED, FileStatus.PROCESSING], updated_at__lt=cutoff
    ).count()


def bytes_stored() -> int:
    """Bytes held in storage, counting shared (de-duplicated) content once."""
    return StoredBlob.objects.aggregate(total=Sum("size"))["total"] or 0


def file_content_blob(*, upload: FileUpload) -> StoredBlob | None:
    """The blob to serve for an upload, or None when it must not be served."""
    blob = upload.blob
    if blob is None or blob.quarantined or upload.status in (FileStatus.UPLOADING, FileStatus.DELETED):
        return None
    return blob
