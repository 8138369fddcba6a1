"""Every write of the files app: creating uploads, appending tus chunks,
finishing into de-duplicated storage, deleting, expiring, and queueing
validation. Views, tasks and admin actions call these and nothing else.
"""

import fcntl
import hashlib
import re
import time
import unicodedata
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from aggregator.exceptions import Conflict, Gone, InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable
from aggregator.models import Pipeline
from aggregator.selectors import visible_to
from files import conf, storage, upload_rows
from files.chunk_file import ChunkFile, ChunkSink, head_length
from files.hashing import ResumableSha256
from files.models import FileStatus, FileUpload, ScanStatus, StoredBlob
from files.request_body import BlockReader
from files.tus import Checksum, ChecksumMismatch, Locked

log = structlog.get_logger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


# --- Input checks --------------------------------------------------------------


def filename_clean(name: str) -> str:
    """The user's filename, refused when it could be a path or hide control
    characters. Stored names are generated; this one is only displayed."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A filename is required.")
    name = unicodedata.normalize("NFC", name).strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidInput("Filename contains control characters.")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise InvalidInput("Filename must not contain a path.")
    if name.endswith(".") or len(name.encode()) > 255:
        raise InvalidInput("Filename is too long or ends with a dot.")
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        raise InvalidInput("Filename is a reserved device name.")
    return name


def _check_size(size: int) -> None:
    if size < 0:
        raise InvalidInput("Size must not be negative.")
    if size > conf.MAX_SIZE:
        raise PayloadTooLarge(f"Upload-Length {size} is above the maximum of {conf.MAX_SIZE} bytes.")


def _pipeline_for(owner, pipeline: Pipeline | int | str | None) -> Pipeline | None:
    if pipeline in (None, ""):
        return None
    if isinstance(pipeline, Pipeline):
        pipeline = pipeline.pk
    try:
        return visible_to(Pipeline, user=owner).get(pk=int(pipeline))
    except (Pipeline.DoesNotExist, ValueError, TypeError):
        raise InvalidInput(f"Pipeline {str(pipeline)[:40]!r} does not exist.") from None


def _expiry(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=conf.UPLOAD_EXPIRY_SECONDS)


def _progress(offset: int, size: int) -> int:
    return 100 if size == 0 else min(100, offset * 100 // size)


# --- Creating ------------------------------------------------------------------


def file_upload_create(
    *,
    owner,
    filename: str,
    size: int,
    metadata: dict[str, str] | None = None,
    declared_mime_type: str = "",
    pipeline: Pipeline | int | str | None = None,
    source: FileUpload | None = None,
) -> FileUpload:
    """Start a tus upload. When `metadata["sha256"]` names content the owner
    already stored with this size, the upload is complete at once."""
    metadata = dict(metadata or {})
    filename = filename_clean(filename)
    _check_size(size)
    pipeline_obj = _pipeline_for(owner, pipeline)
    claimed = metadata.get("sha256", "").strip().lower()
    if claimed and not _SHA256.match(claimed):
        raise InvalidInput("Upload-Metadata sha256 must be 64 hex digits.")

    upload = FileUpload(
        id=uuid.uuid4(),
        owner=owner,
        pipeline=pipeline_obj,
        source=source,
        filename=filename,
        size=size,
        metadata=metadata,
        declared_mime_type=declared_mime_type[:255],
    )
    blob = None
    if claimed:
        with transaction.atomic():
            # Locked: the orphan sweep (files/recovery.py) removes a blob no
            # upload refers to, and must not remove this one under us.
            blob = StoredBlob.objects.select_for_update().filter(owner=owner, sha256=claimed, size=size).first()
            if blob is not None:
                _mark_uploaded(upload, blob=blob, sha256=claimed, create=True)
    if blob is not None:
        log.info("file_upload_deduplicated", upload_id=str(upload.id), sha256=claimed, size=size)
        return upload

    path = storage.temp_path_for(upload.id)
    path.touch(mode=0o600)
    upload.temp_path = str(path)
    upload.expires_at = _expiry()
    upload.hash_state = ResumableSha256().state()
    try:
        upload.save(force_insert=True)
    except Exception:
        storage.delete_temp(path)
        raise
    if size == 0:
        # Nothing will ever be PATCHed; finish now so the client's upload ends.
        _finish(upload, ResumableSha256().hexdigest())
    log.info("file_upload_created", upload_id=str(upload.id), size=size, filename=filename)
    return upload


def file_upload_create_from_stream(
    *,
    owner,
    stream: BinaryIO,
    filename: str,
    declared_mime_type: str = "",
    pipeline: Pipeline | int | str | None = None,
    source: FileUpload | None = None,
    max_size: int | None = None,
) -> FileUpload:
    """Store a whole stream as a new upload (de-duplicated) and queue its
    validation. Used by the multipart endpoint and by conversions."""
    filename = filename_clean(filename)
    pipeline_obj = _pipeline_for(owner, pipeline)
    limit = conf.MAX_SIZE if max_size is None else max_size
    path = storage.new_temp_file()
    hasher = ResumableSha256()
    try:
        with open(path, "wb") as out:
            while block := stream.read(conf.IO_BLOCK_SIZE):
                if hasher.hashed_bytes + len(block) > limit:
                    raise PayloadTooLarge(f"File is larger than the {limit} byte limit.")
                out.write(block)
                hasher.update(block)
        upload = FileUpload(
            id=uuid.uuid4(),
            owner=owner,
            pipeline=pipeline_obj,
            source=source,
            filename=filename,
            size=hasher.hashed_bytes,
            declared_mime_type=declared_mime_type[:255],
            temp_path=str(path),
        )
        with transaction.atomic():
            _mark_uploaded(upload, blob=None, sha256=hasher.hexdigest(), create=True)
    finally:
        storage.delete_temp(path)
    log.info("file_upload_stored", upload_id=str(upload.id), size=upload.size, sha256=upload.sha256)
    return upload


def file_upload_create_from_path(
    *, owner, path: str | Path, filename: str, source: FileUpload | None = None, pipeline=None
) -> FileUpload:
    """Store a local file (left in place) as a new upload for `owner`."""
    with open(path, "rb") as stream:
        return file_upload_create_from_stream(
            owner=owner, stream=stream, filename=filename, source=source, pipeline=pipeline
        )


# --- Appending (tus PATCH) -------------------------------------------------------


def _get_for(owner, upload_id) -> FileUpload:
    try:
        queryset = FileUpload.objects.all() if owner.is_staff else FileUpload.objects.filter(owner=owner)
        return queryset.get(pk=upload_id)
    except (FileUpload.DoesNotExist, ValueError):
        raise NotFound("No such upload.") from None


def file_upload_get_resumable(*, owner, upload_id) -> FileUpload:
    """The upload a tus HEAD/PATCH addresses, or 404/410."""
    return _resumable(_get_for(owner, upload_id))


def _resumable_for_append(owner, upload_id) -> FileUpload:
    """file_upload_get_resumable for a PATCH: the same answers, from one
    SELECT of the columns a chunk needs (files/upload_rows.py)."""
    upload = upload_rows.read(upload_id, None if owner.is_staff else owner.pk)
    if upload is None:
        raise NotFound("No such upload.")
    return _resumable(upload)


def _resumable(upload: FileUpload) -> FileUpload:
    if upload.status == FileStatus.DELETED:
        raise Gone("This upload was terminated or has expired.")
    if upload.status == FileStatus.UPLOADING and upload.expires_at and upload.expires_at <= timezone.now():
        raise Gone("This upload has expired.")
    return upload


def file_upload_head(*, owner, upload_id) -> FileUpload:
    """The upload a tus HEAD asks about. One whose bytes have all arrived but
    that was never finished (the server died, or its database call failed,
    between recording the last chunk and storing the file) is finished now:
    a client that resumes sees offset == length and sends nothing more."""
    upload = file_upload_get_resumable(owner=owner, upload_id=upload_id)
    if upload.status == FileStatus.UPLOADING and upload.size and upload.offset == upload.size:
        _finish_interrupted(upload)
    return upload


def _finish_interrupted(upload: FileUpload) -> None:
    with _locked(Path(upload.temp_path)) as handle:
        upload.refresh_from_db()
        if upload.status != FileStatus.UPLOADING or upload.offset != upload.size:
            return
        hasher = ResumableSha256.restore(upload.hash_state, expected_bytes=upload.offset)
        if hasher is None:
            hasher = ResumableSha256.of_prefix(handle, upload.offset)
        log.warning("file_upload_finish_interrupted", upload_id=str(upload.id))
        _finish(upload, hasher.hexdigest())


@contextmanager
def _locked(path: Path):
    """An exclusive lock on an upload's partial file, shared by all worker
    processes on this host; waits a little, then answers 423."""
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:
        raise Gone("This upload's partial data is gone.") from None
    try:
        deadline = time.monotonic() + conf.LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Locked("Another request is writing to this upload; retry shortly.") from None
                time.sleep(0.05)
        yield handle
    finally:
        # A finished upload's file may be unlinked by now (its content was
        # already stored): closing it frees its blocks, off the request path.
        storage.close_file(handle)


def _already_complete(upload: FileUpload, offset: int) -> FileUpload:
    """A PATCH to an upload that is complete (e.g. de-duplicated from
    Upload-Metadata sha256): a client that sends anyway is told it is done,
    and nothing is stored."""
    if offset in (0, upload.size):
        return upload
    raise Conflict(f"Upload-Offset {offset} does not match the upload's offset {upload.size}.")


def file_upload_append(
    *,
    owner,
    upload_id,
    offset: int,
    stream: BinaryIO,
    content_length: int | None,
    checksum: Checksum | None = None,
) -> FileUpload:
    """Append a PATCH body at `offset`, streaming it to disk while hashing.

    Bytes are accounted only once written; a dropped connection keeps what
    arrived (tus "store as much as possible") unless a checksum was sent, in
    which case the partial chunk is discarded like a mismatching one.
    """
    # The lock is taken first, on the partial file where file_upload_create
    # put it, so the row is read once, under the lock, where it is current.
    # (No partial file there: the upload is finished, gone, someone else's
    # or was created under another FILES_TEMP_DIR; the row decides.)
    path = storage.temp_path_for(upload_id)
    if not path.exists():
        upload = file_upload_get_resumable(owner=owner, upload_id=upload_id)
        if upload.status != FileStatus.UPLOADING:
            return _already_complete(upload, offset)
        path = Path(upload.temp_path)

    with _locked(path) as handle:
        upload = _resumable_for_append(owner, upload_id)
        if upload.status != FileStatus.UPLOADING:
            return _already_complete(upload, offset)
        if Path(upload.temp_path) != path:
            raise Gone("This upload's partial data is gone.")
        if offset != upload.offset:
            raise Conflict(f"Upload-Offset {offset} does not match the upload's offset {upload.offset}.")
        if content_length is not None and offset + content_length > upload.size:
            raise PayloadTooLarge(f"The chunk would end past Upload-Length {upload.size}.")
        hasher = ResumableSha256.restore(upload.hash_state, expected_bytes=offset)
        if hasher is None:
            # Lost or foreign state (libcrypto missing, old row): re-hash the
            # prefix on disk once; every later PATCH resumes from the saved state.
            log.warning("file_upload_rehash_prefix", upload_id=str(upload.id), offset=offset)
            hasher = ResumableSha256.of_prefix(handle, offset)
        written, hasher, error = _receive(handle, offset, stream, content_length, upload.size, hasher, checksum)
        new_offset = offset + written
        expires = _expiry()
        # Its own transaction; on PostgreSQL it commits without waiting for
        # the WAL flush (_COMMIT_WITHOUT_WAITING below says why that is safe).
        updated = upload_rows.advance(
            upload,
            from_offset=offset,
            status=FileStatus.UPLOADING,
            offset=new_offset,
            progress=_progress(new_offset, upload.size),
            hash_state=hasher.state(),
            expires_at=expires,
            updated_at=timezone.now(),
        )
        if not updated:
            raise Gone("This upload was terminated while receiving data.")
        upload.offset = new_offset
        upload.progress = _progress(new_offset, upload.size)
        upload.hash_state = hasher.state()
        upload.expires_at = expires
        if error is not None:
            raise error
        if upload.offset == upload.size:
            _finish(upload, hasher.hexdigest())
    return upload


# _COMMIT_WITHOUT_WAITING: the offset UPDATE (its own transaction) commits
# without waiting for the WAL flush on PostgreSQL: `set_config(..., true)` is
# SET LOCAL from inside the one statement (files/upload_rows.py), so it costs
# no round trip and ends with that transaction. Saves the flush (1–3 ms) on
# every chunk.
#
# Why this is safe: the partial file is not fsynced per chunk either (the
# bytes sit in the page cache or the disk's cache), so waiting for the WAL
# bought no durability the bytes had. After a PostgreSQL crash the row can
# only be behind what was acknowledged (at most ~0.6 s of commits), never
# ahead: its offset and hash state still match each other and the bytes up
# to that offset, so the client's next PATCH gets a 409, its HEAD the row's
# offset, and it sends the rest again. Finishing an upload commits normally.


def _receive(handle, offset, stream, content_length, size, hasher, checksum):
    """Copy the body to the file at `offset`.

    Returns (bytes kept, hasher over the kept bytes, error or None). A chunk
    with a checksum is all or nothing; one without keeps what arrived.
    """
    remaining_allowed = size - offset
    expected = content_length if content_length is not None else remaining_allowed + 1
    chunk_hash = hashlib.new(checksum.algorithm) if checksum is not None else None
    saved_state = hasher.state()
    # Drop bytes a crashed earlier request may have written past the offset.
    handle.seek(offset)
    handle.truncate(offset)
    # Each 1 MiB block goes to the kernel as it is, without a copy, mostly past
    # the page cache (files/chunk_file.py).
    out = ChunkFile(handle.name, handle.fileno(), offset, direct=conf.UPLOAD_DIRECT_IO)
    sink = ChunkSink(out, [hasher] if chunk_hash is None else [hasher, chunk_hash])
    # A first block up to the next 4 KiB boundary puts every later one on it.
    head = head_length(offset) if out.direct_fd is not None else 0
    received = 0
    failure: Exception | None = None
    discard = False
    try:
        # Blocks come in a ring of reused buffers, one more than the sink may
        # hold in flight, so a buffer is refilled only once it is written.
        reader = BlockReader(stream, content_length, conf.IO_BLOCK_SIZE, ring=ChunkSink.AHEAD + 1)
        while received < expected:
            block = reader.read(min(expected - received, head or expected))
            head = 0
            if not block:
                break
            if received + len(block) > remaining_allowed:
                failure = PayloadTooLarge(f"The chunk goes past Upload-Length {size}; it was discarded.")
                discard = True
                break
            sink.put(block)
            received += len(block)
        if failure is None and content_length is not None and received < content_length:
            failure = InvalidInput("The request body ended before Content-Length bytes arrived.")
    except Exception as exc:  # the client went away mid-body
        log.info("file_upload_body_interrupted", received=received, error=str(exc))
        failure = InvalidInput("The request body was interrupted.")
    try:
        sink.drain()
    except Exception as exc:  # the disk refused a write
        log.error("file_upload_write_failed", received=received, error=str(exc))
        # Nothing of the chunk is kept; the client may retry at the same offset.
        failure, discard = ServiceUnavailable("The chunk could not be stored; retry shortly."), True
    finally:
        out.close()
    if chunk_hash is not None:
        if failure is None and chunk_hash.digest() != checksum.digest:
            failure = ChecksumMismatch("Upload-Checksum does not match the chunk; it was discarded.")
        discard = discard or failure is not None
    if not discard:
        return sink.written, hasher, failure
    handle.truncate(offset)
    restored = ResumableSha256.restore(saved_state, expected_bytes=offset)
    return 0, restored or ResumableSha256.of_prefix(handle, offset), failure


# --- Finishing -----------------------------------------------------------------


def _mark_uploaded(upload: FileUpload, *, blob: StoredBlob | None, sha256: str, create: bool) -> None:
    """Link the upload to stored bytes (storing them unless the owner already
    has this content) and queue validation. Runs inside a transaction."""
    if blob is None:
        blob = StoredBlob.objects.select_for_update().filter(owner=upload.owner, sha256=sha256).first()
    temp_path = upload.temp_path
    stored_name = None
    if blob is None:
        stored_name = storage.store(Path(temp_path), storage.blob_name(upload.owner_id, sha256))
        try:
            with transaction.atomic():
                blob = StoredBlob.objects.create(
                    owner=upload.owner, sha256=sha256, size=upload.size, storage_name=stored_name
                )
        except IntegrityError:
            # Another upload of the same content won the race; share its bytes.
            storage.delete_stored(stored_name)
            blob = StoredBlob.objects.select_for_update().get(owner=upload.owner, sha256=sha256)
    upload.blob = blob
    upload.sha256 = sha256
    upload.offset = upload.size
    upload.progress = 100
    upload.status = FileStatus.UPLOADED
    upload.hash_state = None
    upload.temp_path = ""
    upload.expires_at = None
    if create:
        upload.save(force_insert=True)
    else:
        upload.save()
    if temp_path:
        transaction.on_commit(lambda: storage.delete_temp(temp_path))
    _queue_validation(upload.pk)


def _finish(upload: FileUpload, sha256: str) -> None:
    with transaction.atomic():
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.status != FileStatus.UPLOADING:
            return
        _mark_uploaded(locked, blob=None, sha256=sha256, create=False)
    upload.refresh_from_db()
    log.info("file_upload_completed", upload_id=str(upload.id), sha256=sha256, size=upload.size)


def _queue_validation(upload_id) -> None:
    from files.tasks import file_upload_validate_task

    # robust: with the broker down the upload is still stored and answered;
    # the re-queue beat job (file_uploads_requeue_stuck) validates it later.
    transaction.on_commit(lambda: file_upload_validate_task.delay(str(upload_id)), robust=True)


# --- Deleting, expiring ------------------------------------------------------------


def _release_blob(blob_id: int | None) -> None:
    """Remove a blob and its bytes once no live upload refers to it."""
    if blob_id is None:
        return
    blob = StoredBlob.objects.select_for_update().filter(pk=blob_id).first()
    if blob is None or blob.uploads.exclude(status=FileStatus.DELETED).exists():
        return
    name = blob.storage_name
    blob.uploads.update(blob=None)
    blob.delete()
    transaction.on_commit(lambda: storage.delete_stored(name))


def file_upload_delete(*, upload: FileUpload, reason: str = "") -> FileUpload:
    """Mark the upload DELETED and remove its bytes unless shared."""
    with transaction.atomic():
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.status == FileStatus.DELETED:
            return locked
        temp_path, blob_id = locked.temp_path, locked.blob_id
        locked.status = FileStatus.DELETED
        locked.temp_path = ""
        locked.hash_state = None
        locked.blob = None
        if reason:
            locked.failure_reason = reason
        locked.save()
        _release_blob(blob_id)
        transaction.on_commit(lambda: storage.delete_temp(temp_path))
    log.info("file_upload_deleted", upload_id=str(upload.pk), reason=reason or "requested")
    return locked


def file_uploads_expire(*, now: datetime | None = None) -> int:
    """Delete unfinished uploads whose expiry has passed, and partial files
    no upload points to (left by a crash between creating the file and its
    row). The beat job. An expired upload whose bytes all arrived is finished
    instead: only the server failed to store it."""
    now = now or timezone.now()
    expired = FileUpload.objects.filter(status=FileStatus.UPLOADING, expires_at__lte=now)
    count = 0
    for upload in expired.iterator():
        if upload.size and upload.offset == upload.size:
            try:
                _finish_interrupted(upload)
                continue
            except Gone:
                pass  # its partial file is gone too
        file_upload_delete(upload=upload, reason="Upload expired before it was finished.")
        count += 1
    _remove_orphan_temp_files(now)
    return count


def _remove_orphan_temp_files(now: datetime) -> int:
    older_than = (now - timedelta(seconds=conf.UPLOAD_EXPIRY_SECONDS)).timestamp()
    live = {
        Path(name).name
        for name in FileUpload.objects.filter(status=FileStatus.UPLOADING)
        .exclude(temp_path="")
        .values_list("temp_path", flat=True)
        .iterator()
    }
    removed = 0
    for path in storage.temp_files():
        try:
            stale = path.stat().st_mtime < older_than
        except FileNotFoundError:
            continue
        if stale and path.name not in live:
            storage.delete_temp(path)
            removed += 1
    if removed:
        log.info("file_upload_orphans_removed", count=removed)
    return removed


# --- Validation state ------------------------------------------------------------


def file_upload_revalidate(*, upload: FileUpload) -> FileUpload:
    """Queue validation and scanning again (POST files/{id}/validate)."""
    with transaction.atomic():
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.status in (FileStatus.UPLOADING, FileStatus.DELETED) or locked.blob_id is None:
            raise Conflict(f"A file that is {locked.status} cannot be validated.")
        if locked.status == FileStatus.VALIDATING:
            return locked
        locked.status = FileStatus.UPLOADED
        locked.failure_reason = ""
        locked.scan_status = ScanStatus.PENDING
        locked.scan_result = ""
        locked.completed_at = None
        locked.save()
        _queue_validation(locked.pk)
    return locked


def file_upload_claim_for_validation(*, upload_id) -> bool:
    """Move UPLOADED (or stuck VALIDATING) to VALIDATING; False if someone else
    has it or there is nothing to do, which makes the task safe to run twice."""
    now = timezone.now()
    stale = now - timedelta(seconds=conf.VALIDATION_STUCK_SECONDS)
    return bool(
        FileUpload.objects.filter(pk=upload_id, blob__isnull=False)
        .filter(Q(status=FileStatus.UPLOADED) | Q(status=FileStatus.VALIDATING, validation_started_at__lt=stale))
        .update(status=FileStatus.VALIDATING, validation_started_at=now, updated_at=now)
    )


def file_uploads_requeue_stuck(*, now: datetime | None = None) -> int:
    """Queue validation for files stuck in VALIDATING (a worker died) or left
    UPLOADED (the queueing was lost)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=conf.VALIDATION_STUCK_SECONDS)
    stuck = FileUpload.objects.filter(blob__isnull=False).filter(
        Q(status=FileStatus.VALIDATING, validation_started_at__lt=stale)
        | Q(status=FileStatus.UPLOADED, updated_at__lt=stale)
    )
    ids = list(stuck.values_list("pk", flat=True)[:1000])
    for upload_id in ids:
        _queue_validation(upload_id)
    return len(ids)


def file_upload_record_validation(
    *,
    upload_id,
    report: dict,
    passed: bool,
    failure_reason: str,
    file_type: str,
    mime_type: str,
    scan_status: str,
    scan_result: str,
    quarantine: bool,
) -> None:
    """Store a validation outcome, unless the file was deleted meanwhile."""
    with transaction.atomic():
        upload = FileUpload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.status != FileStatus.VALIDATING:
            return
        upload.validation_report = report
        upload.file_type = file_type
        upload.mime_type = mime_type[:255]
        upload.scan_status = scan_status
        upload.scan_result = scan_result[:255]
        upload.failure_reason = "" if passed else failure_reason
        upload.status = FileStatus.COMPLETED if passed else FileStatus.FAILED
        upload.completed_at = timezone.now()
        upload.save()
        if quarantine and upload.blob_id:
            StoredBlob.objects.filter(pk=upload.blob_id).update(quarantined=True)
    log.info("file_upload_validated", upload_id=str(upload_id), passed=passed, reason=failure_reason, scan=scan_status)


# --- Re-scanning -------------------------------------------------------------

RESCANNABLE = (FileStatus.COMPLETED, FileStatus.FAILED)


def file_upload_rescan(*, upload: FileUpload, requested_by: str = "") -> FileUpload:
    """Queue a new virus scan of a file whose validation has finished."""
    from files.tasks import file_upload_rescan_task

    with transaction.atomic():
        locked = FileUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.status not in RESCANNABLE or locked.blob_id is None:
            raise Conflict(f"A file that is {locked.status} cannot be re-scanned.")
        locked.scan_status = ScanStatus.PENDING
        locked.scan_result = ""
        locked.save(update_fields=["scan_status", "scan_result", "updated_at"])
        # robust: with the broker down the file waits with its scan pending
        # and the re-queue beat job (file_rescans_requeue) sends it later.
        transaction.on_commit(lambda: file_upload_rescan_task.delay(str(locked.pk)), robust=True)
    log.info("file_upload_rescan_queued", upload_id=str(upload.pk), requested_by=requested_by)
    return locked


def file_upload_record_scan(
    *,
    upload_id,
    report: dict,
    passed: bool,
    failure_reason: str,
    scan_status: str,
    scan_result: str,
    quarantine: bool,
) -> bool:
    """Store a re-scan's verdict; True when it made the file COMPLETED (it
    was not before). Nothing changes for a file deleted or re-validated
    meanwhile."""
    with transaction.atomic():
        upload = FileUpload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.status not in RESCANNABLE or upload.blob_id is None:
            return False
        was_completed = upload.status == FileStatus.COMPLETED
        upload.validation_report = report
        upload.scan_status = scan_status
        upload.scan_result = scan_result[:255]
        upload.failure_reason = "" if passed else failure_reason
        upload.status = FileStatus.COMPLETED if passed else FileStatus.FAILED
        upload.save()
        if quarantine:
            StoredBlob.objects.filter(pk=upload.blob_id).update(quarantined=True)
    log.info("file_upload_rescanned", upload_id=str(upload_id), scan=scan_status, passed=passed)
    return passed and not was_completed
