"""The dashboard as the admin index shows it: the cached snapshot from
data.py turned into panels, charts and links into the admin lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from aggregator.console import charts, data

STATUS_COLOURS = {
    # files
    "uploading": "#417690",
    "uploaded": "#5b80b2",
    "validating": "#c18a00",
    "processing": "#c18a00",
    "completed": "#2e7d32",
    "failed": "#ba2121",
    "deleted": "#777",
    # severities
    "critical": "#8b0000",
    "high": "#ba2121",
    "medium": "#c18a00",
    "low": "#5b80b2",
    # health
    "pass": "#2e7d32",
    "warn": "#c18a00",
    "fail": "#ba2121",
}


def admin_url(viewname: str, **query: Any) -> str | None:
    """The admin page, filtered by `query`; None when that admin is not
    registered (its app has not landed), so the template shows plain text."""
    try:
        url = reverse(f"admin:{viewname}")
    except NoReverseMatch:
        return None
    return f"{url}?{urlencode(query)}" if query else url


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _files(panel: dict[str, Any] | None) -> dict[str, Any] | None:
    if panel is None:
        return None
    changelist = "files_fileupload_changelist"
    return {
        **panel,
        "rows": [
            {
                "status": status,
                "count": count,
                "colour": STATUS_COLOURS[status],
                "url": admin_url(changelist, status__exact=status),
            }
            for status, count in panel["by_status"]
        ],
        "waiting_url": admin_url(changelist, status__exact="uploaded"),
        "validating_url": admin_url(changelist, status__exact="validating"),
        "scan_url": admin_url(changelist, scan_status__exact="pending"),
    }


def _logs(panel: dict[str, Any] | None) -> dict[str, Any] | None:
    if panel is None:
        return None
    day_bars = [
        charts.Bar(
            label=f"{item['start']:%H}" if index % 3 == 0 else "",
            value=item["count"],
            tooltip=f"{item['start']:%Y-%m-%d %H:00} UTC",
        )
        for index, item in enumerate(panel["day"])
    ]
    week_bars = [
        charts.Bar(label=f"{item['start']:%a %d}", value=item["count"], tooltip=f"{item['start']:%Y-%m-%d}")
        for item in panel["week"]
    ]
    return {
        **panel,
        "day_chart": charts.bar_chart(day_bars, title="Errors per hour, last 24 hours (UTC)"),
        "week_chart": charts.bar_chart(week_bars, title="Errors per day, last 7 days (UTC)"),
        "errors_url": admin_url("monitoring_systemlog_changelist", level__exact="error"),
        "critical_url": admin_url("monitoring_systemlog_changelist", level__exact="critical"),
    }


def _alerts(panel: dict[str, Any] | None) -> dict[str, Any] | None:
    if panel is None:
        return None
    changelist = "monitoring_alert_changelist"
    rows = [
        {
            **row,
            "colour": STATUS_COLOURS[row["severity"]],
            "url": admin_url(changelist, severity__exact=row["severity"], status__exact="active"),
        }
        for row in panel["by_severity"]
    ]
    oldest = panel["oldest_unacknowledged"]
    if oldest is not None:
        oldest = {
            **oldest,
            "age_text": _age(oldest["age"]),
            "colour": STATUS_COLOURS.get(oldest["severity"], "#777"),
            "url": _change_url(oldest["id"]),
        }
    return {**panel, "rows": rows, "oldest": oldest, "list_url": admin_url(changelist, status__exact="active")}


def _change_url(alert_id: int) -> str | None:
    try:
        return reverse("admin:monitoring_alert_change", args=[alert_id])
    except NoReverseMatch:
        return None


def _health(panel: dict[str, Any]) -> dict[str, Any]:
    return {
        **panel,
        "components": [{**item, "colour": STATUS_COLOURS.get(item["status"], "#777")} for item in panel["components"]],
        "page_url": admin_url("health_componenthealth_changelist"),
    }


def _queues(panel: dict[str, Any] | None) -> dict[str, Any] | None:
    if panel is None:
        return None
    deepest = max((depth for _name, depth in panel["depths"]), default=0)
    return {
        **panel,
        "rows": [
            {"name": name, "depth": depth, "percent": 0 if deepest == 0 else round(100 * depth / deepest)}
            for name, depth in panel["depths"]
        ],
        "schedules_url": admin_url("django_celery_beat_periodictask_changelist"),
    }


def dashboard_context() -> dict[str, Any]:
    """Everything the dashboard template needs, from the cached snapshot."""
    snapshot = data.dashboard_cached()
    return {
        "generated_at": snapshot["generated_at"],
        "age_seconds": int((timezone.now() - snapshot["generated_at"]).total_seconds()),
        "files": _files(snapshot["files"]),
        "logs": _logs(snapshot["logs"]),
        "alerts": _alerts(snapshot["alerts"]),
        "health": _health(snapshot["health"]),
        "queues": _queues(snapshot["queues"]),
    }
