"""Shapes of the logs API: what a SystemLog and a LogArchive look like, and
the validated bodies and query strings of the read endpoints."""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from aggregator.api import StrictFieldsMixin
from aggregator.middleware import _VALID_ID
from monitoring.logs import conf
from monitoring.logs.entries import clean_text, parse_level
from monitoring.logs.fields import REQUEST_FIELDS
from monitoring.logs.selectors import BUCKETS, LogSearch
from monitoring.models import LogArchive, SystemLog


class SystemLogSerializer(serializers.ModelSerializer):
    has_exception = serializers.BooleanField(read_only=True)
    rank = serializers.SerializerMethodField()

    class Meta:
        model = SystemLog
        fields = [
            "id",
            "timestamp",
            "level",
            "message",
            "source",
            "logger",
            *REQUEST_FIELDS,
            "user",
            "exception_type",
            "exception_message",
            "stack_trace",
            "has_exception",
            "context",
            "restored_from",
            "rank",
        ]
        read_only_fields = fields

    def get_rank(self, obj: SystemLog) -> float | None:
        rank = getattr(obj, "rank", None)
        return None if rank is None else round(float(rank), 6)


# DRF's own field, for its exact rendering of a time (current time zone, ISO
# 8601, "Z" for UTC).
_TIME = serializers.DateTimeField(read_only=True)


def log_lines_data(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What `SystemLogSerializer(rows, many=True).data` holds for the same
    rows, the same keys in the same order, built directly from a search's
    lines (selectors.LINE_FIELDS: column values, and rank): DRF's per-field
    machinery (bound-field copies, a get_attribute and a to_representation
    per field and line) took ~2.5 ms for a page of 50, more than the search's
    SQL. tests/monitoring/test_log_search.py holds the two to the same output."""
    time = _TIME.to_representation
    data = []
    for line in lines:
        rank, duration, memory = line.get("rank"), line["duration_ms"], line["memory_bytes"]
        status, client_ip = line["http_status"], line["client_ip"]
        data.append(
            {
                "id": line["id"],
                "timestamp": time(line["timestamp"]),
                "level": line["level"],
                "message": line["message"],
                "source": line["source"],
                "logger": line["logger"],
                "correlation_id": line["correlation_id"],
                "request_id": line["request_id"],
                "trace_id": line["trace_id"],
                "span_id": line["span_id"],
                "duration_ms": None if duration is None else float(duration),
                "memory_bytes": None if memory is None else int(memory),
                "http_method": line["http_method"],
                "http_path": line["http_path"],
                "http_status": None if status is None else int(status),
                "client_ip": None if client_ip is None else str(client_ip),
                "user": line["user_id"],
                "exception_type": line["exception_type"],
                "exception_message": line["exception_message"],
                "stack_trace": line["stack_trace"],
                # SystemLog.has_exception
                "has_exception": bool(line["exception_type"] or line["stack_trace"]),
                "context": line["context"],
                "restored_from": line["restored_from_id"],
                "rank": None if rank is None else round(float(rank), 6),
            }
        )
    return data


class LogArchiveSerializer(serializers.ModelSerializer):
    class Meta:
        model = LogArchive
        fields = [
            "id",
            "status",
            "created_at",
            "completed_at",
            "cutoff",
            "start_time",
            "end_time",
            "entry_count",
            "original_size",
            "compressed_size",
            "sha256",
            "storage_path",
            "expires_at",
            "restored_at",
            "restored_count",
        ]
        read_only_fields = fields


def _levels(values: list[str]) -> list[str]:
    try:
        return sorted({parse_level(value) for value in values})
    except ValueError as exc:
        raise serializers.ValidationError(str(exc)) from None


class LogSearchSerializer(StrictFieldsMixin, serializers.Serializer):
    query = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)
    levels = serializers.ListField(child=serializers.CharField(max_length=20), required=False, max_length=10)
    sources = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)
    correlation_id = serializers.CharField(required=False, allow_blank=True, max_length=128)
    user = serializers.JSONField(required=False, allow_null=True)
    status_code = serializers.JSONField(required=False, allow_null=True)
    has_exception = serializers.BooleanField(required=False, allow_null=True, default=None)
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0, default=0)
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=200)
    order = serializers.ChoiceField(choices=["newest", "oldest", "relevance"], required=False, default="newest")

    def validate_query(self, value: str) -> str:
        if len(value) > conf.SEARCH_QUERY_MAX_CHARS:
            raise serializers.ValidationError(f"At most {conf.SEARCH_QUERY_MAX_CHARS} characters.")
        return clean_text(value)

    def validate_levels(self, value: list[str]) -> list[str]:
        return _levels(value)

    def validate_user(self, value: Any) -> int | str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise serializers.ValidationError("A user id or a username.")
        if isinstance(value, str) and len(value) > 150:
            raise serializers.ValidationError("At most 150 characters.")
        return value

    def validate_status_code(self, value: Any) -> list[int]:
        values = value if isinstance(value, list) else [] if value is None else [value]
        if len(values) > 100 or not all(
            isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599 for code in values
        ):
            raise serializers.ValidationError("An HTTP status (100-599) or a list of them.")
        return values

    def validate_limit(self, value: int) -> int:
        if value > conf.SEARCH_MAX_LIMIT:
            raise serializers.ValidationError(f"At most {conf.SEARCH_MAX_LIMIT}.")
        return value

    def validate_offset(self, value: int) -> int:
        if value > conf.SEARCH_MAX_OFFSET:
            raise serializers.ValidationError(f"At most {conf.SEARCH_MAX_OFFSET}; page further with the cursor.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start >= end:
            raise serializers.ValidationError({"end": "Must be later than start."})
        if attrs.get("cursor") and attrs.get("order") == "relevance":
            raise serializers.ValidationError({"cursor": "Relevance order pages with offset, not a cursor."})
        return attrs

    def to_search(self) -> LogSearch:
        data = self.validated_data
        return LogSearch(
            query=data.get("query", ""),
            levels=data.get("levels", []),
            sources=data.get("sources", []),
            start=data.get("start"),
            end=data.get("end"),
            correlation_id=data.get("correlation_id", ""),
            user=data.get("user"),
            status_codes=data.get("status_code") or [],
            has_exception=data.get("has_exception"),
            order=data["order"],
        )


class TimeRangeQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    """?start=&end= (ISO 8601), by default the last 24 hours."""

    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.now()
        start = attrs.get("start") or end - timedelta(hours=24)
        if start >= end:
            raise serializers.ValidationError({"end": "Must be later than start."})
        if end - start > timedelta(days=conf.STATISTICS_MAX_DAYS):
            raise serializers.ValidationError({"start": f"The range may span at most {conf.STATISTICS_MAX_DAYS} days."})
        return {"start": start, "end": end}


class RecentErrorsQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    hours = serializers.IntegerField(required=False, min_value=1, max_value=24 * 31, default=24)
    source = serializers.CharField(required=False, max_length=100)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


# Buckets per trend: bounded so a request cannot ask for millions of them.
MAX_PERIODS = {"minute": 24 * 60, "hour": 24 * 31, "day": 366}
DEFAULT_PERIODS = {"minute": 60, "hour": 24, "day": 30}


class ErrorTrendQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    bucket = serializers.ChoiceField(choices=list(BUCKETS), required=False, default="hour")
    periods = serializers.IntegerField(required=False, min_value=1)
    source = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        bucket = attrs["bucket"]
        periods = attrs.get("periods") or DEFAULT_PERIODS[bucket]
        if periods > MAX_PERIODS[bucket]:
            raise serializers.ValidationError({"periods": f"At most {MAX_PERIODS[bucket]} {bucket} buckets."})
        attrs["periods"] = periods
        return attrs


class ArchiveRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    older_than_days = serializers.IntegerField(required=False, min_value=0, max_value=36_500)


def valid_correlation_id(value: str) -> bool:
    return bool(_VALID_ID.match(value))
