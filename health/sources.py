"""What health reads from the other apps, in one place.

Health may read every app, but only through its selectors (DESIGN.md).
Files and monitoring are optional here: a source whose selector is not
importable (the app is not installed, or not built yet) is left out of the
report and the metrics instead of breaking them. Adding a figure is one
entry below plus, for metrics, one gauge in health/metrics/collectors.py.

Shapes expected from the other apps:
- files.selectors.file_counts_by_status() -> {status: count}
- files.selectors.bytes_stored() -> int
- monitoring.alerts.selectors.alert_counts_by_severity_and_status() -> {(severity, status): count}
- monitoring.logs.capture.dropped_total() -> int (log lines dropped since the process started)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.module_loading import import_string

from aggregator.models import Pipeline

FILE_COUNTS_BY_STATUS = "files.selectors.file_counts_by_status"
BYTES_STORED = "files.selectors.bytes_stored"
ALERT_COUNTS = "monitoring.alerts.selectors.alert_counts_by_severity_and_status"
LOG_DROPS = "monitoring.logs.capture.dropped_total"

# Alert statuses that still need a person.
OPEN_ALERT_STATUSES = {"active", "acknowledged"}


def optional(path: str) -> Callable[..., Any] | None:
    try:
        return import_string(path)
    except ImportError:
        return None


def pipelines_active() -> int:
    return Pipeline.objects.filter(status=Pipeline.Status.ACTIVE).count()


def users_active() -> int:
    return get_user_model().objects.filter(is_active=True).count()


def files_by_status() -> dict[str, int] | None:
    selector = optional(FILE_COUNTS_BY_STATUS)
    return {str(key): int(value) for key, value in selector().items()} if selector else None


def bytes_stored() -> int | None:
    selector = optional(BYTES_STORED)
    return int(selector()) if selector else None


def alerts_by_severity_and_status() -> dict[tuple[str, str], int] | None:
    selector = optional(ALERT_COUNTS)
    if selector is None:
        return None
    return {(str(severity), str(status)): int(n) for (severity, status), n in selector().items()}


def log_capture_drops() -> int | None:
    selector = optional(LOG_DROPS)
    return int(selector()) if selector else None
