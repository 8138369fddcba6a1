"""The figures on the operator dashboard.

Each function answers one panel with a few aggregate queries that an index
narrows (no query here reads a whole log table), and returns plain data
(numbers, strings, datetimes, dicts) so the snapshot can be cached.

Other apps are read through their selectors where they have one. A panel
whose app is not installed (or not built yet) answers None and the page says
so, instead of the whole dashboard failing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Min, Model, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.module_loading import import_string

from aggregator.console import conf

logger = structlog.get_logger(__name__)

FILE_COUNTS_BY_STATUS = "files.selectors.file_counts_by_status"
LOG_ERROR_TREND = "monitoring.logs.selectors.log_error_trend"
HEALTH_RUNNER = "health.runner.run_checks"
HEALTH_CHECKS = "health.checks.CHECKS"
QUEUE_DEPTHS = "health.checks.celery.queue_depths"

FILE_STATUSES = ["uploading", "uploaded", "validating", "processing", "completed", "failed", "deleted"]
SEVERITIES = ["critical", "high", "medium", "low"]
OPEN_ALERT_STATUSES = ["active", "acknowledged"]
ERROR_LEVELS = ["error", "critical"]


def optional(path: str) -> Any | None:
    """The object at `path`, or None when its app has not got it (yet)."""
    try:
        return import_string(path)
    except ImportError:
        return None


def _model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


# --- Files ------------------------------------------------------------------


def files_panel(*, now: datetime) -> dict[str, Any] | None:
    """Files by status, and the validation / scan backlog with its oldest entry."""
    FileUpload = _model("files.FileUpload")
    if FileUpload is None:
        return None
    selector = optional(FILE_COUNTS_BY_STATUS)
    if selector is not None:
        by_status = {str(key): int(value) for key, value in selector().items()}
    else:
        by_status = {
            row["status"]: row["n"] for row in FileUpload.objects.order_by().values("status").annotate(n=Count("pk"))
        }
    stuck_before = now - timedelta(minutes=conf.STUCK_MINUTES)
    # Backlog: uploads waiting for validation or in it, and finished uploads
    # whose virus scan has not answered. Both are small sets reached through
    # the status index.
    backlog = FileUpload.objects.filter(status__in=["uploaded", "validating"]).aggregate(
        waiting=Count("pk", filter=Q(status="uploaded")),
        validating=Count("pk", filter=Q(status="validating")),
        stuck=Count("pk", filter=Q(status="validating", validation_started_at__lt=stuck_before)),
        oldest=Min("created_at"),
    )
    scan_pending = (
        FileUpload.objects.filter(status__in=["uploaded", "validating", "processing", "completed"])
        .filter(scan_status="pending")
        .count()
    )
    return {
        "by_status": [(status, by_status.get(status, 0)) for status in FILE_STATUSES],
        "total": sum(by_status.values()),
        "waiting": backlog["waiting"],
        "validating": backlog["validating"],
        "stuck": backlog["stuck"],
        "oldest_waiting": backlog["oldest"],
        "scan_pending": scan_pending,
        "stuck_minutes": conf.STUCK_MINUTES,
    }


# --- Logs -------------------------------------------------------------------

_TRUNC = {"hour": TruncHour, "day": TruncDay}
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def _error_series(*, bucket: str, periods: int, now: datetime) -> list[dict[str, Any]]:
    """Error and critical lines per bucket, oldest first, the current
    (partial) bucket last. Uses the logs app's trend selector when it has
    one; otherwise the same grouped count over the (level, timestamp) index."""
    selector = optional(LOG_ERROR_TREND)
    if selector is not None:
        trend = selector(bucket=bucket, periods=periods, now=now)
        return [{"start": item["start"], "count": item["count"]} for item in trend["series"]]
    SystemLog = apps.get_model("monitoring", "SystemLog")
    step = _STEP[bucket]
    end = _floor(now, bucket) + step
    start = end - step * periods
    counts = {
        row["bucket"].astimezone(UTC): row["n"]
        for row in SystemLog.objects.filter(level__in=ERROR_LEVELS, timestamp__gte=start, timestamp__lt=end)
        .order_by()
        .annotate(bucket=_TRUNC[bucket]("timestamp", tzinfo=UTC))
        .values("bucket")
        .annotate(n=Count("pk"))
    }
    return [{"start": start + step * i, "count": counts.get(start + step * i, 0)} for i in range(periods)]


def logs_panel(*, now: datetime) -> dict[str, Any] | None:
    """The error-log trend over the last 24 hours (hourly) and 7 days (daily)."""
    if _model("monitoring.SystemLog") is None:
        return None
    day = _error_series(bucket="hour", periods=24, now=now)
    week = _error_series(bucket="day", periods=7, now=now)
    return {
        "day": day,
        "week": week,
        "day_total": sum(item["count"] for item in day),
        "week_total": sum(item["count"] for item in week),
    }


# --- Alerts -----------------------------------------------------------------


def alerts_panel(*, now: datetime) -> dict[str, Any] | None:
    """Open alerts by severity, and the oldest one nobody has acknowledged."""
    Alert = _model("monitoring.Alert")
    if Alert is None:
        return None
    open_alerts = Alert.objects.filter(status__in=OPEN_ALERT_STATUSES).order_by()
    counts = {
        (row["severity"], row["status"]): row["n"]
        for row in open_alerts.values("severity", "status").annotate(n=Count("pk"))
    }
    by_severity = [
        {
            "severity": severity,
            "active": counts.get((severity, "active"), 0),
            "acknowledged": counts.get((severity, "acknowledged"), 0),
        }
        for severity in SEVERITIES
    ]
    oldest = (
        Alert.objects.filter(status="active")
        .select_related("rule")
        .order_by("triggered_at", "pk")
        .only("pk", "severity", "message", "triggered_at", "rule__name")
        .first()
    )
    return {
        "by_severity": by_severity,
        "open_total": sum(counts.values()),
        "unacknowledged": sum(item["active"] for item in by_severity),
        "oldest_unacknowledged": None
        if oldest is None
        else {
            "id": oldest.pk,
            "severity": oldest.severity,
            "rule": oldest.rule.name,
            "message": oldest.message,
            "triggered_at": oldest.triggered_at,
            "age": now - oldest.triggered_at,
        },
    }


# --- Health and queues ------------------------------------------------------


def _own_checks() -> list[dict[str, Any]]:
    """What the console can tell by itself when the health app is absent:
    the database and the cache answer."""
    results = []
    for name, probe in (("database", _ping_database), ("cache", _ping_cache)):
        try:
            probe()
            results.append({"name": name, "status": "pass", "output": ""})
        except Exception as error:  # noqa: BLE001 — any failure is the finding
            results.append({"name": name, "status": "fail", "output": str(error)[:200]})
    return results


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_cache() -> None:
    cache.set("console:ping", 1, timeout=5)
    if cache.get("console:ping") != 1:
        raise RuntimeError("the cache did not keep a value")


def health_panel() -> dict[str, Any]:
    """Each component's status from the health app's runner (which has its
    own timeouts and cache), or the console's own two probes without it."""
    run_checks: Callable | None = optional(HEALTH_RUNNER)
    checks = optional(HEALTH_CHECKS)
    if run_checks is None or checks is None:
        return {"source": "console", "components": _own_checks()}
    components = [
        {"name": result.name, "status": result.status.value, "output": result.output or ""}
        for result in run_checks(checks)
    ]
    return {"source": "health", "components": components}


def queues_panel() -> dict[str, Any] | None:
    """Messages waiting in each Celery queue, as the health app reads them."""
    depths: Callable | None = optional(QUEUE_DEPTHS)
    if depths is None:
        return None
    try:
        return {"depths": sorted(depths().items()), "error": ""}
    except Exception as error:  # noqa: BLE001 — a broker outage is shown, not raised
        logger.warning("console_queue_depths_failed", error=str(error))
        return {"depths": [], "error": str(error)[:200]}


def dashboard_snapshot(*, now: datetime | None = None) -> dict[str, Any]:
    """Every panel, computed now."""
    now = now or timezone.now()
    return {
        "generated_at": now,
        "files": files_panel(now=now),
        "logs": logs_panel(now=now),
        "alerts": alerts_panel(now=now),
        "health": health_panel(),
        "queues": queues_panel(),
    }


CACHE_KEY = "console:dashboard:v1"


def dashboard_cached() -> dict[str, Any]:
    """The snapshot, reused for conf.CACHE_SECONDS across operators."""
    snapshot = cache.get(CACHE_KEY)
    if snapshot is None:
        snapshot = dashboard_snapshot()
        if conf.CACHE_SECONDS > 0:
            cache.set(CACHE_KEY, snapshot, timeout=conf.CACHE_SECONDS)
    return snapshot
