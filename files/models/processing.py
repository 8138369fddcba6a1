"""Work done on a stored file: conversions, previews, and the jobs that run them.

A `FileProcessingJob` is the record a client polls (`GET files/jobs/{id}`):
status, progress 0-100, timings, a result and the output file. A
`FileConversion` says what was asked (source, target format) and points at
its job. A `FilePreview` is the stored default preview of a file.
"""

import uuid

from django.conf import settings
from django.db import models

from files.models.uploads import FileUpload


class JobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobKind(models.TextChoices):
    CONVERSION = "conversion"


class FileProcessingJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="file_jobs")
    # SET_NULL: a job outlives a source that was removed, and says so.
    file = models.ForeignKey(
        "files.FileUpload", null=True, blank=True, on_delete=models.SET_NULL, related_name="processing_jobs"
    )
    kind = models.CharField(max_length=20, choices=JobKind.choices, default=JobKind.CONVERSION)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    output_file = models.ForeignKey(
        "files.FileUpload", null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_by_jobs"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched on every progress update: a RUNNING job whose heartbeat is
    # old lost its worker and may be taken over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="files_job_status_beat_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(progress__lte=100), name="files_job_progress_percent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ConversionFormat(models.TextChoices):
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"
    XLSX = "xlsx"
    PARQUET = "parquet"


class FileConversion(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="file_conversions")
    source = models.ForeignKey(
        "files.FileUpload", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    target_format = models.CharField(max_length=10, choices=ConversionFormat.choices)
    sheet = models.CharField(max_length=255, blank=True, help_text="Excel source: the sheet to convert.")
    job = models.OneToOneField(FileProcessingJob, on_delete=models.CASCADE, related_name="conversion")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.target_format}"


class FilePreview(models.Model):
    """The default preview (default rows/columns, first sheet), stored."""

    file = models.OneToOneField("files.FileUpload", on_delete=models.CASCADE, related_name="preview")
    kind = models.CharField(max_length=10, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # A thumbnail is a few KiB (the edge is capped by settings); keeping it
    # on the row avoids a second storage object per image.
    thumbnail = models.BinaryField(null=True, blank=True, editable=False)
    thumbnail_content_type = models.CharField(max_length=50, blank=True)
    error = models.TextField(blank=True, help_text="Why the file cannot be previewed.")
    generated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preview of {self.file_id}"


class UploadPage(FileUpload):
    """No data of its own: the admin's "Upload files" page for operators
    hangs off this proxy so that it is listed with the other files models."""

    class Meta:
        proxy = True
        verbose_name = "upload page"
        verbose_name_plural = "upload files"
