"""ACTIVE → ACKNOWLEDGED → RESOLVED → CLOSED, each step audited.

Transitions lock the alert row and check its status under the lock, so two
operators clicking at once get one transition and one 409.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from aggregator.exceptions import Conflict
from monitoring.alerts import conf
from monitoring.alerts.services.audit import action_record
from monitoring.alerts.services.escalation import escalation_start
from monitoring.alerts.services.notifications import channels_notified_of_firing, notifications_enqueue
from monitoring.models import Alert, AlertAction, AlertActionType, AlertStatus, NotificationEvent


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update(of=("self",)).select_related("rule").get(pk=alert.pk)


def alert_acknowledge(*, alert: Alert, actor, source: str = "api", comment: str = "") -> Alert:
    now = timezone.now()
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status != AlertStatus.ACTIVE:
            raise Conflict(f"Alert is {alert.status}; only an active alert can be acknowledged.")
        timeout = (alert.escalation_policy_snapshot or {}).get("ack_timeout_seconds")
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by = actor if getattr(actor, "is_authenticated", False) else None
        alert.ack_expires_at = now + timedelta(seconds=timeout) if timeout else None
        # Acknowledging stops escalation; bumping the step makes queued
        # escalation tasks stale.
        alert.next_escalation_at = None
        alert.escalation_step += 1
        alert.save()
        action_record(
            alert=alert,
            action=AlertActionType.ACKNOWLEDGED,
            actor=actor,
            source=source,
            old_status=AlertStatus.ACTIVE,
            new_status=AlertStatus.ACKNOWLEDGED,
            details={"comment": comment} if comment else {},
        )
    return alert


def alert_resolve(
    *, alert: Alert, actor=None, source: str = "api", comment: str = "", automatic: bool = False
) -> Alert:
    """Resolves an open alert and tells every channel that heard it fire."""
    now = timezone.now()
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status not in (AlertStatus.ACTIVE, AlertStatus.ACKNOWLEDGED):
            raise Conflict(f"Alert is already {alert.status}.")
        old_status = alert.status
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        alert.resolved_by = None if automatic or not getattr(actor, "is_authenticated", False) else actor
        alert.resolved_automatically = automatic
        alert.ack_expires_at = None
        alert.next_escalation_at = None
        alert.escalation_step += 1
        alert.save()
        details = {"comment": comment} if comment else {}
        if automatic:
            details["value"] = alert.rule.last_value
        action_record(
            alert=alert,
            action=AlertActionType.AUTO_RESOLVED if automatic else AlertActionType.RESOLVED,
            actor=None if automatic else actor,
            source="system" if automatic else source,
            old_status=old_status,
            new_status=AlertStatus.RESOLVED,
            details=details,
        )
        notifications_enqueue(
            alert=alert, channels=channels_notified_of_firing(alert=alert), event=NotificationEvent.RESOLVED
        )
    return alert


def alerts_ack_timeout(*, now: datetime) -> int:
    """Acknowledgements past their policy's timeout fall back to ACTIVE and
    escalation resumes."""
    count = 0
    ids = list(
        Alert.objects.filter(status=AlertStatus.ACKNOWLEDGED, ack_expires_at__lte=now).values_list("pk", flat=True)
    )
    for alert_id in ids:
        with transaction.atomic():
            alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
            if alert is None or alert.status != AlertStatus.ACKNOWLEDGED or not alert.ack_expires_at:
                continue
            if alert.ack_expires_at > now:
                continue
            alert.status = AlertStatus.ACTIVE
            alert.ack_expires_at = None
            alert.escalation_step += 1
            alert.save(update_fields=["status", "ack_expires_at", "escalation_step"])
            action_record(
                alert=alert,
                action=AlertActionType.ACK_TIMEOUT,
                old_status=AlertStatus.ACKNOWLEDGED,
                new_status=AlertStatus.ACTIVE,
                details={"acknowledged_by": alert.acknowledged_by_id},
            )
            escalation_start(alert=alert, now=now)
            count += 1
    return count


def alerts_close_resolved(*, now: datetime | None = None) -> int:
    """Closes alerts resolved longer ago than the retention period."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.CLOSE_RESOLVED_AFTER_SECONDS)
    closed = 0
    ids = list(Alert.objects.filter(status=AlertStatus.RESOLVED, resolved_at__lte=cutoff).values_list("pk", flat=True))
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        with transaction.atomic():
            # The conditional UPDATE claims each row once even if two beat
            # runs overlap; only the rows this run changed get an action.
            claimed = list(
                Alert.objects.select_for_update(skip_locked=True)
                .filter(pk__in=batch, status=AlertStatus.RESOLVED)
                .values_list("pk", flat=True)
            )
            Alert.objects.filter(pk__in=claimed).update(status=AlertStatus.CLOSED, closed_at=now)
            AlertAction.objects.bulk_create(
                AlertAction(
                    alert_id=pk,
                    action=AlertActionType.CLOSED,
                    old_status=AlertStatus.RESOLVED,
                    new_status=AlertStatus.CLOSED,
                    details={"retention_seconds": conf.CLOSE_RESOLVED_AFTER_SECONDS},
                )
                for pk in claimed
            )
            closed += len(claimed)
    return closed
