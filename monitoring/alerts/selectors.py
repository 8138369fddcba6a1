"""Reads of the alerts half, with their joins in one place."""

from datetime import datetime, timedelta
from statistics import mean
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from monitoring.models import (
    Alert,
    AlertAction,
    AlertEscalationPolicy,
    AlertRule,
    AlertSeverity,
    AlertSilence,
    AlertStatus,
    NotificationAttempt,
    NotificationChannel,
    NotificationStatus,
)


def rule_list() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("escalation_policy").prefetch_related("channels")


def alert_list() -> QuerySet[Alert]:
    return Alert.objects.select_related("rule", "acknowledged_by", "resolved_by")


def alert_history(*, alert: Alert) -> QuerySet[AlertAction]:
    return AlertAction.objects.filter(alert=alert).select_related("actor").order_by("created_at", "id")


def policy_list() -> QuerySet[AlertEscalationPolicy]:
    return AlertEscalationPolicy.objects.prefetch_related("levels__channels")


def channel_list() -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.all()


def silence_list() -> QuerySet[AlertSilence]:
    return AlertSilence.objects.select_related("rule", "created_by")


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def _summary(durations: list[float]) -> dict[str, Any]:
    durations.sort()
    return {
        "count": len(durations),
        "mean": round(mean(durations), 3) if durations else None,
        "p50": _percentile(durations, 0.5),
        "p90": _percentile(durations, 0.9),
    }


def alert_statistics(*, since: datetime | None = None, until: datetime | None = None, top: int = 10) -> dict[str, Any]:
    """Counts by status and severity of alerts triggered in [since, until),
    mean time to acknowledge (acknowledged alerts only) and to resolve (split
    into manual and automatic), the noisiest rules, and notification outcomes."""
    until = until or timezone.now()
    since = since or until - timedelta(days=7)
    alerts = Alert.objects.filter(triggered_at__gte=since, triggered_at__lt=until)
    by_status = {status.value: 0 for status in AlertStatus}
    by_status.update(dict(alerts.values_list("status").annotate(n=Count("id")).values_list("status", "n")))
    by_severity = {severity.value: 0 for severity in AlertSeverity}
    by_severity.update(dict(alerts.values_list("severity").annotate(n=Count("id")).values_list("severity", "n")))

    mtta = [
        (acked - triggered).total_seconds()
        for triggered, acked in alerts.filter(acknowledged_at__isnull=False).values_list(
            "triggered_at", "acknowledged_at"
        )
    ]
    manual: list[float] = []
    automatic: list[float] = []
    for triggered, resolved, auto in alerts.filter(resolved_at__isnull=False).values_list(
        "triggered_at", "resolved_at", "resolved_automatically"
    ):
        (automatic if auto else manual).append((resolved - triggered).total_seconds())
    mttr = _summary(manual + automatic)
    mttr["manual"] = _summary(manual)
    mttr["automatic"] = _summary(automatic)

    noisy = (
        alerts.values("rule_id", name=F("rule__name"))
        .annotate(alerts=Count("id"), occurrences=Sum("occurrence_count"))
        .order_by("-alerts", "-occurrences", "rule_id")[:top]
    )
    attempts = NotificationAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    by_outcome = dict(attempts.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {
        "start": since.isoformat(),
        "end": until.isoformat(),
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_severity": by_severity,
        "mtta_seconds": _summary(mtta),
        "mttr_seconds": mttr,
        "noisy_rules": [
            {"rule": row["rule_id"], "name": row["name"], "alerts": row["alerts"], "occurrences": row["occurrences"]}
            for row in noisy
        ],
        "notifications": {
            "sent": by_outcome.get(NotificationStatus.SENT, 0),
            "failed": by_outcome.get(NotificationStatus.FAILED, 0),
            "flagged_channels": list(NotificationChannel.objects.filter(disabled=True).values_list("pk", flat=True)),
        },
    }


def attempt_list() -> QuerySet[NotificationAttempt]:
    return NotificationAttempt.objects.all()
