"""Escalation along the policy snapshotted onto the alert.

`escalation_level` counts the levels notified in the current pass. Each
level's delay runs from the previous step (from the firing, for the first).
After the last level the ladder starts over `repeat` times. Every step bumps
`escalation_step`, so a task queued for an older step is stale and does
nothing (as Grafana OnCall does with its active escalation id).
"""

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from aggregator.exceptions import Conflict
from monitoring.alerts.services.audit import action_record
from monitoring.alerts.services.notifications import notifications_enqueue
from monitoring.models import (
    Alert,
    AlertActionType,
    AlertEscalationPolicy,
    AlertStatus,
    NotificationChannel,
    NotificationEvent,
)

MAX_REPEAT = 9  # PagerDuty's num_loops cap.


def policy_snapshot(policy: AlertEscalationPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    levels = [
        {"delay_seconds": level.delay_seconds, "channels": sorted(channel.pk for channel in level.channels.all())}
        for level in policy.levels.prefetch_related("channels").order_by("position")
    ]
    return {
        "id": policy.pk,
        "name": policy.name,
        "repeat": policy.repeat,
        "ack_timeout_seconds": policy.ack_timeout_seconds,
        "levels": levels,
    }


def _levels(alert: Alert) -> list[dict[str, Any]]:
    return (alert.escalation_policy_snapshot or {}).get("levels") or []


def _next_due(alert: Alert, now: datetime) -> datetime | None:
    """When the next automatic step is due, or None when the ladder is done."""
    levels = _levels(alert)
    repeat = (alert.escalation_policy_snapshot or {}).get("repeat", 0)
    if alert.escalation_level < len(levels):
        return now + timedelta(seconds=levels[alert.escalation_level]["delay_seconds"])
    if levels and alert.escalation_repeats_done < repeat:
        return now + timedelta(seconds=levels[0]["delay_seconds"])
    return None


def escalation_start(*, alert: Alert, now: datetime) -> None:
    """Called when an alert fires (or a silence ends): schedules level 1,
    escalating at once when its delay is zero."""
    if not _levels(alert):
        return
    alert.next_escalation_at = _next_due(alert, now)
    alert.save(update_fields=["next_escalation_at"])
    if alert.next_escalation_at is not None and alert.next_escalation_at <= now:
        _step(alert=alert, now=now, actor=None, source="system", manual=False)


def _step(*, alert: Alert, now: datetime, actor, source: str, manual: bool) -> None:
    levels = _levels(alert)
    if alert.escalation_level >= len(levels):
        # Only the automatic ladder loops; a person cannot go past the top.
        alert.escalation_repeats_done += 1
        alert.escalation_level = 0
    alert.escalation_level += 1
    alert.escalation_step += 1
    level = levels[alert.escalation_level - 1]
    channels = list(NotificationChannel.objects.filter(pk__in=level["channels"]))
    alert.next_escalation_at = _next_due(alert, now) if alert.status == AlertStatus.ACTIVE else None
    alert.save(update_fields=["escalation_level", "escalation_repeats_done", "escalation_step", "next_escalation_at"])
    action_record(
        alert=alert,
        action=AlertActionType.ESCALATED,
        actor=actor,
        source=source,
        details={
            "level": alert.escalation_level,
            "pass": alert.escalation_repeats_done + 1,
            "channels": [channel.pk for channel in channels],
            "manual": manual,
        },
    )
    notifications_enqueue(alert=alert, channels=channels, event=NotificationEvent.ESCALATION, reason="escalation")
    if alert.next_escalation_at is None and not manual and alert.status == AlertStatus.ACTIVE:
        action_record(
            alert=alert, action=AlertActionType.ESCALATION_FINISHED, details={"level": alert.escalation_level}
        )


def alert_escalate(*, alert: Alert, actor, source: str = "api", now: datetime | None = None) -> Alert:
    """By hand: notify the next level now."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status not in (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED):
            raise Conflict(f"Alert is {alert.status}; only an open alert can be escalated.")
        levels = _levels(alert)
        if not levels:
            raise Conflict("Alert has no escalation policy to escalate along.")
        if alert.escalation_level >= len(levels):
            raise Conflict(f"Alert is already at the last escalation level ({len(levels)}).")
        _step(alert=alert, now=now, actor=actor, source=source, manual=True)
    return alert


def alert_escalate_due(*, alert_id: int, step: int, now: datetime) -> bool:
    """The beat's step for one alert, queued when it was due; False (and
    nothing done) when the task is stale: the alert moved on, was
    acknowledged or resolved since, so its step no longer matches."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
        if (
            alert is None
            or alert.status != AlertStatus.ACTIVE
            or alert.escalation_step != step
            or alert.next_escalation_at is None
        ):
            return False
        _step(alert=alert, now=now, actor=None, source="system", manual=False)
    return True


def escalations_due(*, now: datetime) -> list[tuple[int, int]]:
    """(alert id, step) of every active alert whose next level is due."""
    return list(
        Alert.objects.filter(status=AlertStatus.ACTIVE, next_escalation_at__lte=now)
        .order_by("next_escalation_at")
        .values_list("pk", "escalation_step")
    )


def escalations_run(*, now: datetime) -> int:
    """Beat: time out stale acknowledgements, then queue every due step."""
    from monitoring.alerts.services.lifecycle import alerts_ack_timeout
    from monitoring.alerts.tasks import alert_escalate_task

    alerts_ack_timeout(now=now)
    due = escalations_due(now=now)
    for alert_id, step in due:
        transaction.on_commit(partial(alert_escalate_task.delay, alert_id, step))
    return len(due)
