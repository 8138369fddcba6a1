"""What health reads from the other apps, in one place.

Health may read every app, but only through its selectors (DESIGN.md).
Each source is named by a dotted path, so tests can point one at a stand-in
(tests/health/fake_sources.py) and an app can move a selector by changing
one line here. Adding a figure is one function below, one observation in
checks/application.py and, for metrics, one family in metrics/collectors.py.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils.module_loading import import_string

from aggregator.models import Pipeline

FILE_COUNTS_BY_STATUS = "files.selectors.file_counts_by_status"  # () -> {status: count}
BYTES_STORED = "files.selectors.bytes_stored"  # () -> int
ALERT_LIST = "monitoring.alerts.selectors.alert_list"  # () -> QuerySet[Alert]
LOG_DROPS = "monitoring.logs.capture.dropped_total"  # () -> int, lines lost by every process

# Alert statuses that still need a person (monitoring's OPEN_STATUSES).
OPEN_ALERT_STATUSES = {"active", "acknowledged"}


def pipelines_active() -> int:
    return Pipeline.objects.filter(status=Pipeline.Status.ACTIVE).count()


def users_active() -> int:
    return get_user_model().objects.filter(is_active=True).count()


def files_by_status() -> dict[str, int]:
    return {str(key): int(value) for key, value in import_string(FILE_COUNTS_BY_STATUS)().items()}


def bytes_stored() -> int:
    return int(import_string(BYTES_STORED)())


def alerts_by_severity_and_status() -> dict[tuple[str, str], int]:
    rows = import_string(ALERT_LIST)().order_by().values("severity", "status").annotate(n=Count("pk"))
    return {(str(row["severity"]), str(row["status"])): int(row["n"]) for row in rows}


def log_capture_drops() -> int:
    return int(import_string(LOG_DROPS)())
