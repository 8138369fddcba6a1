"""Reads of SystemLog and LogArchive: the API, the admin and the alerts half
(log metrics) all come through here."""

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from monitoring.models import LogArchive, LogLevel, SystemLog


def _in_window(*, since: datetime, until: datetime | None) -> QuerySet[SystemLog]:
    queryset = SystemLog.objects.filter(timestamp__gte=since)
    if until is not None:
        queryset = queryset.filter(timestamp__lt=until)
    return queryset


def log_count(
    *,
    since: datetime,
    until: datetime | None = None,
    level: str | list[str] | None = None,
    source: str | None = None,
    text: str | None = None,
) -> int:
    """How many lines in [since, until) match; the `log_count` alert metric.

    `level` is one level or a list of them; `text` is a case-insensitive
    substring of the message (cheap enough over an alert window, which the
    time index narrows first).
    """
    queryset = _in_window(since=since, until=until)
    if level:
        levels = [level] if isinstance(level, str) else list(level)
        queryset = queryset.filter(level__in=[value.lower() for value in levels])
    if source:
        queryset = queryset.filter(source=source)
    if text:
        queryset = queryset.filter(message__icontains=text)
    return queryset.count()


def http_error_ratio(*, since: datetime, until: datetime | None = None) -> float | None:
    """Share of request access lines (lines with an HTTP status) in
    [since, until) whose status is 500 or more; None when there were no
    requests, so an alert rule can tell "no data" from "no errors"."""
    totals = _in_window(since=since, until=until).aggregate(
        requests=Count("id", filter=Q(http_status__isnull=False)),
        errors=Count("id", filter=Q(http_status__gte=500)),
    )
    if not totals["requests"]:
        return None
    return totals["errors"] / totals["requests"]


def log_levels_at_least(level: str) -> list[str]:
    return LogLevel.at_least(level)


def log_archive_list() -> QuerySet[LogArchive]:
    return LogArchive.objects.all()
