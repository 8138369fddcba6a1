"""Models of the logs half: SystemLog (one structured log line) and LogArchive
(one gzip JSON Lines file of archived lines in storage)."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.expressions import RawSQL

__all__ = ["SEARCH_CONFIG", "LogArchive", "LogLevel", "SystemLog", "message_search_vector"]

# The text-search configuration of the stored message vector (migration 0006
# generates it with this one); queries must parse their words with the same.
SEARCH_CONFIG = "english"


def message_search_vector() -> RawSQL:
    """The message's stored tsvector: the PostgreSQL-only generated column
    `message_search` (to_tsvector('english', message)), GIN-indexed as
    systemlog_message_fts. It is not a model field, so SQLite (no tsvector)
    has no such column and every SELECT of a SystemLog leaves it out."""
    return RawSQL('"monitoring_systemlog"."message_search"', [], output_field=SearchVectorField())


class LogLevel(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"

    @classmethod
    def at_least(cls, level: str) -> list[str]:
        """The level and every more severe one, e.g. error → [error, critical]."""
        values = [choice.value for choice in cls]
        return values[values.index(level) :]


class SystemLog(models.Model):
    timestamp = models.DateTimeField()
    level = models.CharField(max_length=10, choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()
    # The service that produced the line ("aggregator", "billing-api"...) and
    # the logger inside it ("files.services").
    source = models.CharField(max_length=100, default="aggregator")
    logger = models.CharField(max_length=200, blank=True)

    correlation_id = models.CharField(max_length=128, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    span_id = models.CharField(max_length=64, blank=True)

    duration_ms = models.FloatField(null=True, blank=True)
    memory_bytes = models.BigIntegerField(null=True, blank=True)

    http_method = models.CharField(max_length=10, blank=True)
    http_path = models.CharField(max_length=2048, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # No database constraint: lines from other services and restored archives
    # may name users this database no longer (or never) had, and a log insert
    # must never fail for that.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )

    exception_type = models.CharField(max_length=255, blank=True)
    exception_message = models.TextField(blank=True)
    stack_trace = models.TextField(blank=True)

    context = models.JSONField(default=dict, blank=True)
    # Set on lines brought back from an archive for an investigation, so the
    # nightly archiving leaves them alone and restoring twice adds nothing.
    restored_from = models.ForeignKey(
        "monitoring.LogArchive", null=True, blank=True, on_delete=models.CASCADE, related_name="restored_logs"
    )

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["timestamp", "id"], name="systemlog_time_idx"),
            models.Index(fields=["level", "timestamp"], name="systemlog_level_time_idx"),
            models.Index(fields=["source", "timestamp"], name="systemlog_source_time_idx"),
            models.Index(fields=["correlation_id", "timestamp"], name="systemlog_correlation_idx"),
            models.Index(
                fields=["timestamp"],
                name="systemlog_http_status_idx",
                condition=models.Q(http_status__isnull=False),
            ),
            # The full-text GIN index, systemlog_message_fts, is on the
            # PostgreSQL-only generated column (migration 0006), not here.
            # New rows wait in its pending list, which every search reads in
            # full until VACUUM merges it: gin_pending_list_limit = 512 kB
            # keeps searches fast while lines stream in (the default is 4 MB).
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level.upper()} {self.message[:80]}"

    @property
    def has_exception(self) -> bool:
        return bool(self.exception_type or self.stack_trace)


class LogArchive(models.Model):
    class Status(models.TextChoices):
        # The record exists and the file may be missing or partial; the rows
        # are all still in SystemLog. A retry rewrites the file from them.
        WRITING = "writing", "Writing"
        # The file is written and verified and its rows were deleted in the
        # same transaction that set this status.
        COMPLETE = "complete", "Complete"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WRITING)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # What went in: rows older than `cutoff` with ids in [first_id, last_id].
    cutoff = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    # What the file holds.
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    entry_count = models.PositiveIntegerField(default=0)
    original_size = models.BigIntegerField(default=0)
    compressed_size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    storage_path = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    restored_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status"], name="logarchive_status_idx"),
            models.Index(fields=["expires_at"], name="logarchive_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"Log archive {self.pk} ({self.entry_count} entries)"
