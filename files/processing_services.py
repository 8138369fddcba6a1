"""Writes for previews, conversions and processing jobs.

Conversion jobs are safe to run twice (tasks are `acks_late`, and a worker
killed mid-job has its message delivered again): a job is claimed with a
conditional update, every progress write is fenced by the attempt number,
and the output FileUpload is created in the same transaction that marks the
job COMPLETED, so a retried job never leaves a duplicate output behind.
"""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path, PurePath

import structlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from aggregator import cache
from aggregator.exceptions import Conflict, DomainError, InvalidInput
from files import storage
from files.conversions import EXTENSIONS, ConversionError, conversion_check, convert
from files.conversions import conf as convert_conf
from files.models import (
    FileConversion,
    FilePreview,
    FileProcessingJob,
    FileStatus,
    FileUpload,
    JobStatus,
    ScanStatus,
)
from files.previews import Preview, PreviewError, format_of, preview_build

log = structlog.get_logger(__name__)


class Unprocessable(DomainError):
    """The file is fine to hold but cannot be previewed (a bomb, bad bytes)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def _source_problem(upload: FileUpload) -> str | None:
    """Why this file may not be previewed or converted, or None."""
    if upload.status == FileStatus.DELETED or upload.blob_id is None:
        return "The file was deleted."
    if upload.scan_status == ScanStatus.INFECTED or upload.blob.quarantined:
        return "The file is infected and quarantined."
    if upload.status == FileStatus.FAILED:
        reason = upload.failure_reason or "validation failed"
        return f"The file failed validation: {reason}"
    if upload.status != FileStatus.COMPLETED:
        return f"The file is {upload.status}; wait until its validation completes."
    return None


# --- Previews ------------------------------------------------------------------


def _build(upload: FileUpload, **limits) -> Preview:
    with storage.local_copy(upload.blob.storage_name) as path:
        return preview_build(path, fmt=format_of(upload.filename, upload.file_type), **limits)


def _stored(preview: FilePreview) -> Preview:
    if preview.error:
        raise Unprocessable(preview.error)
    return Preview(
        data=preview.data,
        thumbnail=bytes(preview.thumbnail) if preview.thumbnail else None,
        thumbnail_content_type=preview.thumbnail_content_type,
    )


def file_preview_generate(*, upload: FileUpload) -> FilePreview:
    """Builds and stores the default preview (or why there is none)."""
    try:
        preview = _build(upload)
    except PreviewError as exc:
        values = {"kind": "", "data": {}, "thumbnail": None, "thumbnail_content_type": "", "error": str(exc)}
    else:
        values = {
            "kind": preview.data["kind"],
            "data": preview.data,
            "thumbnail": preview.thumbnail,
            "thumbnail_content_type": preview.thumbnail_content_type,
            "error": "",
        }
    stored, _ = FilePreview.objects.update_or_create(file=upload, defaults=values)
    log.info("file_preview_generated", upload_id=str(upload.pk), kind=values["kind"], error=values["error"])
    return stored


def file_preview_get(
    *,
    upload: FileUpload,
    rows: int | None = None,
    columns: int | None = None,
    sheet: str | None = None,
    refresh: bool = False,
) -> Preview:
    """The preview `GET files/{id}/preview` serves.

    The default preview is stored and reused (regenerated with `refresh`);
    other rows/columns/sheet are built on demand, which is cheap because the
    engines read only the head of the file.
    """
    problem = _source_problem(upload)
    if problem:
        raise Conflict(problem)
    if rows is None and columns is None and not sheet:
        stored = None if refresh else FilePreview.objects.filter(file=upload).first()
        return _stored(stored or file_preview_generate(upload=upload))
    try:
        return _build(upload, rows=rows, columns=columns, sheet=sheet)
    except PreviewError as exc:
        raise Unprocessable(str(exc)) from None


# A worker that dies while building a preview holds its lock this long at
# most; the re-queue job (files/recovery.py) comes back after that.
PREVIEW_LOCK_SECONDS = 300


def _preview_lock_key(upload_id) -> str:
    return f"files:preview-building:{upload_id}"


def file_preview_after_validation(*, upload_id, only_missing: bool = False) -> None:
    """The hook run when validation passes: store the default preview.

    A preview that cannot be made is recorded, never raised: validation
    passed and the file stays usable. One worker builds a file's preview at
    a time (a lock in the cache: a second message, such as the re-queue
    job's racing the original, returns). `only_missing` (the re-queue job)
    leaves a preview that exists alone; after a re-validation the preview
    is built again.
    """
    upload = FileUpload.objects.select_related("blob").filter(pk=upload_id).first()
    if upload is None or _source_problem(upload):
        return
    if only_missing and FilePreview.objects.filter(file=upload).exists():
        return
    key = _preview_lock_key(upload.pk)
    # With the cache down there is no lock to take; build rather than skip.
    if not cache.add(key, 1, PREVIEW_LOCK_SECONDS) and cache.available():
        log.info("file_preview_busy", upload_id=str(upload.pk))
        return
    try:
        file_preview_generate(upload=upload)
    finally:
        cache.delete(key)


def file_preview_queue(*, upload_id) -> None:
    """Queues the preview after the current transaction commits."""
    from files.processing_tasks import file_preview_generate_task

    # robust: with the broker down the validation that queued it still
    # succeeds; the re-queue beat job (files/recovery.py) asks again later.
    transaction.on_commit(lambda: file_preview_generate_task.delay(str(upload_id)), robust=True)


# --- Conversions -----------------------------------------------------------------


def file_conversion_request(*, source: FileUpload, target_format: str, user, sheet: str = "") -> FileConversion:
    """Checks and queues a conversion (POST files/{id}/conversions).

    Asking again for a conversion that is already queued or running returns
    that one instead of starting a second.
    """
    problem = _source_problem(source)
    if problem:
        raise Conflict(f"Cannot convert: {problem}")
    source_fmt = format_of(source.filename, source.file_type)
    rows = recorded_data_rows(source, sheet=sheet)
    try:
        if (source_fmt, target_format) == ("parquet", "xlsx") and rows is None:
            # Validated before row counts were recorded: the footer knows.
            with storage.local_copy(source.blob.storage_name) as path:
                conversion_check(source_fmt=source_fmt, target_fmt=target_format, path=path)
        else:
            conversion_check(source_fmt=source_fmt, target_fmt=target_format, rows=rows)
    except ConversionError as exc:
        raise InvalidInput(str(exc)) from None
    with transaction.atomic():
        FileUpload.objects.select_for_update().filter(pk=source.pk).first()
        active = (
            FileConversion.objects.select_related("job")
            .filter(source=source, target_format=target_format, sheet=sheet)
            .filter(job__status__in=[JobStatus.PENDING, JobStatus.RUNNING])
            .first()
        )
        if active is not None:
            return active
        job = FileProcessingJob.objects.create(
            owner=source.owner,
            file=source,
            parameters={"source_format": source_fmt, "target_format": target_format, "sheet": sheet},
        )
        conversion = FileConversion.objects.create(
            owner=source.owner, source=source, target_format=target_format, sheet=sheet, job=job
        )
        _queue_conversion(job.pk)
    log.info("file_conversion_requested", upload_id=str(source.pk), job_id=str(job.pk), target=target_format)
    return conversion


def recorded_data_rows(upload: FileUpload, *, sheet: str = "") -> int | None:
    """The data rows validation counted (a sheet's, for a workbook), or None
    when it did not (a file validated before counts were recorded)."""
    report = upload.validation_report or {}
    value = (report.get("sheet_rows") or {}).get(sheet) if sheet else report.get("data_rows")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _queue_conversion(job_id) -> None:
    from files.processing_tasks import file_conversion_run_task

    # robust: with the broker down the job stays PENDING and the re-queue
    # beat job (file_jobs_requeue_stale) sends it later.
    transaction.on_commit(lambda: file_conversion_run_task.delay(str(job_id)), robust=True)


class JobBusy(Exception):
    """Another worker is (or seems to be) running this job right now."""


class _Superseded(Exception):
    """A newer attempt took the job over; this one stops quietly."""


def _claim(job_id) -> FileProcessingJob | None:
    """Moves the job to RUNNING for a new attempt; None when there is nothing
    to do; JobBusy when a live worker has it."""
    now = timezone.now()
    stale = now - timedelta(seconds=convert_conf.JOB_STALE_SECONDS)
    with transaction.atomic():
        job = FileProcessingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
            return None
        if job.status == JobStatus.RUNNING and job.heartbeat_at and job.heartbeat_at > stale:
            raise JobBusy(str(job_id))
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.progress = 0
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.save(update_fields=["status", "attempts", "progress", "started_at", "heartbeat_at"])
    return job


def _mine(job: FileProcessingJob):
    return FileProcessingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts)


def _progress_writer(job: FileProcessingJob, *, span: tuple[int, int]) -> Callable[[int, int], None]:
    """A progress callback that writes at most once per percent (and at least
    every few seconds, as the heartbeat), fenced by the attempt number."""
    low, high = span
    last = {"percent": -1, "at": timezone.now()}

    def report(done: int, total: int) -> None:
        percent = low + (high - low) * min(done, total) // max(total, 1)
        now = timezone.now()
        if percent == last["percent"] and (now - last["at"]).total_seconds() < 5:
            return
        if not _mine(job).update(progress=percent, heartbeat_at=now):
            raise _Superseded
        last.update(percent=percent, at=now)

    return report


def _fail(job: FileProcessingJob, reason: str) -> None:
    now = timezone.now()
    _mine(job).update(status=JobStatus.FAILED, error=reason, finished_at=now, heartbeat_at=now)
    log.info("file_conversion_failed", job_id=str(job.pk), reason=reason)


def _output_name(filename: str, target_format: str) -> str:
    stem = PurePath(filename).stem or "converted"
    return f"{stem}{EXTENSIONS[target_format]}"


def file_conversion_run(*, job_id) -> None:
    """Runs one attempt of a conversion job (the Celery task's body)."""
    job = _claim(job_id)
    if job is None:
        return
    conversion = FileConversion.objects.select_related("source__blob").get(job=job)
    source = conversion.source
    problem = "The source file was deleted." if source is None else _source_problem(source)
    if problem:
        _fail(job, problem)
        return
    target_format = conversion.target_format
    output = storage.temp_dir() / f"convert-{job.pk}{EXTENSIONS[target_format]}"
    # A killed attempt may have left its partial output: start clean.
    output.unlink(missing_ok=True)
    try:
        try:
            with storage.local_copy(source.blob.storage_name) as path:
                result = convert(
                    Path(path),
                    source_fmt=job.parameters.get("source_format") or format_of(source.filename, source.file_type),
                    target=output,
                    target_fmt=target_format,
                    progress=_progress_writer(job, span=(0, 95)),
                    sheet=conversion.sheet or None,
                    rows=recorded_data_rows(source, sheet=conversion.sheet),
                )
        except ConversionError as exc:
            _fail(job, str(exc))
            return
        except FileNotFoundError:
            _fail(job, "The source file was deleted.")
            return
        _finish(job, conversion, output, result.as_dict())
    except _Superseded:
        log.info("file_conversion_superseded", job_id=str(job.pk), attempt=job.attempts)
    except Exception as exc:
        # A bug or an outage: the job must not stay RUNNING forever.
        _fail(job, f"Unexpected error: {type(exc).__name__}: {exc}")
        raise
    finally:
        output.unlink(missing_ok=True)


def _finish(job: FileProcessingJob, conversion: FileConversion, output: Path, result: dict) -> None:
    from files.services import file_upload_create_from_path

    with transaction.atomic():
        locked = FileProcessingJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != JobStatus.RUNNING or locked.attempts != job.attempts:
            raise _Superseded
        source = FileUpload.objects.select_related("blob").filter(pk=conversion.source_id).first()
        problem = "The source file was deleted." if source is None else _source_problem(source)
        if problem:
            _fail(job, problem)
            return
        # Created inside this transaction: if the worker dies before the
        # commit there is no output record, and the retry makes the one.
        upload = file_upload_create_from_path(
            owner=source.owner,
            path=output,
            filename=_output_name(source.filename, conversion.target_format),
            source=source,
            pipeline=source.pipeline,
        )
        now = timezone.now()
        locked.status = JobStatus.COMPLETED
        locked.progress = 100
        locked.output_file = upload
        locked.result = {**result, "output_size": upload.size, "output_sha256": upload.sha256}
        locked.finished_at = now
        locked.heartbeat_at = now
        locked.save()
    log.info("file_conversion_completed", job_id=str(job.pk), output_id=str(upload.pk), rows=result.get("rows"))


def file_jobs_requeue_stale(*, now=None) -> int:
    """Queues again the jobs whose worker died or whose message was lost (the
    beat job): RUNNING with a stale heartbeat, or PENDING for too long.

    Brokers differ in how (and whether) they redeliver an unacknowledged
    message: Redis only after its visibility timeout, the embedded
    filesystem broker never. This sweep makes "retried and finishes" hold on
    all of them; claiming keeps a job that is queued twice from running twice.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=convert_conf.JOB_STALE_SECONDS)
    ids = list(
        FileProcessingJob.objects.filter(
            Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale) | Q(status=JobStatus.PENDING, created_at__lt=stale)
        ).values_list("pk", flat=True)[:1000]
    )
    for job_id in ids:
        _queue_conversion(job_id)
    if ids:
        log.info("file_jobs_requeued", count=len(ids))
    return len(ids)
