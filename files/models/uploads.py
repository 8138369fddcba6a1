"""Uploaded files and the stored bytes behind them.

A `FileUpload` is what a user sees: a name, a status and a validation
report. The bytes live in a `StoredBlob`, keyed per owner by SHA-256, so the
same content uploaded twice by one user is stored once and shared by both
records. While a tus upload is still arriving its bytes sit in a temporary
file (`temp_path`) and the running SHA-256 state is kept on the row
(`hash_state`), so completing an upload never re-reads it.
"""

import uuid

from django.conf import settings
from django.db import models


class FileStatus(models.TextChoices):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    VALIDATING = "validating"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"


class FileType(models.TextChoices):
    CSV = "csv"
    JSON = "json"
    XML = "xml"
    EXCEL = "excel"
    PARQUET = "parquet"
    TEXT = "text"
    IMAGE = "image"
    PDF = "pdf"
    ARCHIVE = "archive"
    OTHER = "other"


class ScanStatus(models.TextChoices):
    PENDING = "pending"
    CLEAN = "clean"
    INFECTED = "infected"
    NOT_SCANNED = "not_scanned"


class StoredBlob(models.Model):
    """One owner's copy of some content, stored once through Django's storage API."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    storage_name = models.CharField(max_length=500, help_text="Name of the bytes in the default storage.")
    # Infected content is kept for the operator but never served again.
    quarantined = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "sha256"], name="uniq_blob_owner_sha256")]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size} bytes)"


class FileUpload(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="file_uploads")
    pipeline = models.ForeignKey(
        "aggregator.Pipeline", null=True, blank=True, on_delete=models.SET_NULL, related_name="file_uploads"
    )
    # A file made from another one (a conversion's output) points at its source.
    source = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived")

    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="Total length in bytes (tus Upload-Length).")
    offset = models.BigIntegerField(default=0, help_text="Bytes received so far.")
    progress = models.PositiveSmallIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)

    status = models.CharField(max_length=20, choices=FileStatus.choices, default=FileStatus.UPLOADING, db_index=True)
    file_type = models.CharField(max_length=20, choices=FileType.choices, default=FileType.OTHER, db_index=True)
    mime_type = models.CharField(max_length=255, blank=True, help_text="Detected from the content.")
    declared_mime_type = models.CharField(max_length=255, blank=True, help_text="What the client said.")
    metadata = models.JSONField(default=dict, blank=True, help_text="tus Upload-Metadata, decoded.")

    blob = models.ForeignKey(StoredBlob, null=True, blank=True, on_delete=models.PROTECT, related_name="uploads")
    temp_path = models.CharField(max_length=500, blank=True, help_text="Partial bytes while uploading.")
    # The serialised SHA-256 context of bytes [0, offset); empty when unknown.
    hash_state = models.BinaryField(null=True, blank=True, editable=False)

    validation_report = models.JSONField(default=dict, blank=True)
    scan_status = models.CharField(max_length=20, choices=ScanStatus.choices, default=ScanStatus.PENDING)
    scan_result = models.CharField(max_length=255, blank=True, help_text="Signature name or why not scanned.")
    failure_reason = models.TextField(blank=True)

    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    validation_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "sha256"], name="files_owner_sha256_idx"),
            models.Index(fields=["status", "validation_started_at"], name="files_status_started_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="files_size_non_negative"),
            models.CheckConstraint(
                condition=models.Q(offset__gte=0) & models.Q(offset__lte=models.F("size")),
                name="files_offset_within_size",
            ),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="files_progress_percent"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_complete(self) -> bool:
        return self.offset >= self.size
