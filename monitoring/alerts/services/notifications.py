"""Sending notifications: queue one task per channel, deliver, record.

Enqueueing happens on commit so a worker never sees an alert that is not
there yet. Delivery records an attempt row before it sends (so a crash
mid-send still leaves a trace), then its outcome; it raises Retry for a
transient failure while retries remain, and on the final outcome writes one
AlertAction and updates the channel's health.
"""

import random
import time
import uuid
from collections.abc import Iterable
from functools import partial

import structlog
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from monitoring.alerts import conf
from monitoring.alerts.notifiers import DeliveryError, Notification, adapter_for
from monitoring.alerts.services.audit import action_record
from monitoring.models import (
    Alert,
    AlertActionType,
    NotificationAttempt,
    NotificationChannel,
    NotificationEvent,
    NotificationStatus,
)

logger = structlog.get_logger(__name__)


class RetryDelivery(Exception):
    """Transient failure with retries left; the task retries after `countdown`."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


def backoff_seconds(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, capped; a server's Retry-After wins
    when it asks for longer."""
    ceiling = min(conf.NOTIFY_BACKOFF_MAX_SECONDS, conf.NOTIFY_BACKOFF_SECONDS * (2**retries))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, conf.NOTIFY_BACKOFF_MAX_SECONDS))
    return delay


def notifications_enqueue(
    *, alert: Alert, channels: Iterable[NotificationChannel], event: str, reason: str = ""
) -> list[int]:
    """Queues a delivery per usable channel; returns the channel ids queued."""
    from monitoring.alerts.tasks import alert_notification_send_task

    queued: list[int] = []
    for channel in channels:
        if channel.disabled:
            action_record(
                alert=alert,
                action=AlertActionType.NOTIFICATION_SKIPPED,
                details={"channel": channel.pk, "channel_name": channel.name, "event": event, "why": "channel flagged"},
            )
            continue
        delivery_id = f"msg_{uuid.uuid4().hex}"
        transaction.on_commit(
            partial(alert_notification_send_task.delay, alert.pk, channel.pk, event, delivery_id, reason)
        )
        queued.append(channel.pk)
    if queued:
        Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now(), last_notified_severity=alert.severity)
    return queued


def channels_notified_of_firing(*, alert: Alert) -> list[NotificationChannel]:
    """Every channel a firing (first, repeat or escalation) notice reached."""
    ids = (
        NotificationAttempt.objects.filter(
            alert=alert,
            status=NotificationStatus.SENT,
            event__in=[NotificationEvent.FIRING, NotificationEvent.REPEAT, NotificationEvent.ESCALATION],
        )
        .values_list("channel_id", flat=True)
        .distinct()
    )
    return list(NotificationChannel.objects.filter(pk__in=set(ids)))


def notification_render(*, alert: Alert, event: str, delivery_id: str, reason: str = "") -> Notification:
    rule = alert.rule
    verb = {
        "firing": "firing",
        "repeat": "still firing",
        "escalation": f"escalated to level {alert.escalation_level}",
        "resolved": "resolved",
        "test": "test notification",
    }.get(event, event)
    subject = f"{rule.name} is {verb}"
    value = "no data" if alert.value is None else f"{alert.value:g}"
    text = f"{rule.metric} = {value} ({rule.comparison} {alert.threshold:g}). {alert.message}".strip()
    link = f"{conf.BASE_URL.rstrip('/')}/admin/monitoring/alert/{alert.pk}/change/" if conf.BASE_URL else ""
    data = {
        "timestamp": timezone.now().isoformat(),
        "event": event,
        "reason": reason,
        "alert": {
            "id": alert.pk,
            "status": alert.status,
            "severity": alert.severity,
            "fingerprint": alert.fingerprint,
            "labels": alert.labels,
            "value": alert.value,
            "threshold": alert.threshold,
            "message": alert.message,
            "triggered_at": alert.triggered_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "escalation_level": alert.escalation_level,
        },
        "rule": {"id": rule.pk, "name": rule.name, "metric": rule.metric, "comparison": rule.comparison},
    }
    return Notification(
        event=event,
        delivery_id=delivery_id,
        subject=subject,
        text=text,
        severity=alert.severity,
        data=data,
        link=link,
    )


def _channel_succeeded(channel: NotificationChannel) -> None:
    NotificationChannel.objects.filter(pk=channel.pk).update(
        consecutive_failures=0, last_error="", last_success_at=timezone.now()
    )


def _channel_failed(channel: NotificationChannel, error: DeliveryError) -> None:
    """Counts a final failure; a permanent one, or too many in a row, flags
    the channel so operators see it and it stops being tried."""
    NotificationChannel.objects.filter(pk=channel.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_error=error.message[:1000],
        last_failure_at=timezone.now(),
    )
    channel.refresh_from_db(fields=["consecutive_failures"])
    why = ""
    if error.permanent:
        why = f"permanent failure: {error.message}"
    elif channel.consecutive_failures >= conf.CHANNEL_FAILURE_THRESHOLD:
        why = f"{channel.consecutive_failures} failed deliveries in a row; last: {error.message}"
    if why:
        NotificationChannel.objects.filter(pk=channel.pk, disabled=False).update(
            disabled=True, disabled_reason=why[:500]
        )
        logger.warning("alert_channel_flagged", channel=channel.pk, channel_name=channel.name, reason=why)


def notification_deliver(
    *, alert_id: int, channel_id: int, event: str, delivery_id: str, reason: str = "", retries: int = 0
) -> NotificationAttempt | None:
    """One attempt. Returns the attempt, None when there is nothing to do;
    raises RetryDelivery for a transient failure with retries left."""
    alert = Alert.objects.select_related("rule").filter(pk=alert_id).first()
    channel = NotificationChannel.objects.filter(pk=channel_id).first()
    if alert is None or channel is None:
        return None
    if NotificationAttempt.objects.filter(delivery_id=delivery_id, status=NotificationStatus.SENT).exists():
        return None  # A redelivered task whose notification already went out.
    attempt = NotificationAttempt.objects.create(
        alert=alert, channel=channel, event=event, delivery_id=delivery_id, attempt=retries + 1
    )
    notification = notification_render(alert=alert, event=event, delivery_id=delivery_id, reason=reason)
    started = time.monotonic()
    error: DeliveryError | None = None
    try:
        delivered = adapter_for(channel.kind).send(channel.config, notification)
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # A bug in an adapter must still end as a recorded failure.
        logger.exception("alert_notifier_crashed", channel=channel.pk)
        error = DeliveryError(f"{type(exc).__name__}: {exc}"[:500])
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    details = {"channel": channel.pk, "channel_name": channel.name, "event": event, "attempt": attempt.pk}
    # The outcome, the channel's health and the audit row commit together.
    # The channel's row is written last: every worker sending to the channel
    # queues on its row lock, so it is held only until the commit.
    with transaction.atomic():
        if error is None:
            attempt.status = NotificationStatus.SENT
            attempt.response_code = delivered.status_code
            attempt.save(update_fields=["status", "response_code", "duration_ms"])
            action_record(alert=alert, action=AlertActionType.NOTIFIED, details={**details, "reason": reason})
            _channel_succeeded(channel)
            return attempt

        attempt.status = NotificationStatus.FAILED
        attempt.response_code = error.status_code
        attempt.error = error.message[:1000]
        attempt.permanent = error.permanent
        attempt.save(update_fields=["status", "response_code", "error", "permanent", "duration_ms"])
        if not (error.retryable and retries < conf.NOTIFY_MAX_RETRIES):
            _channel_failed(channel, error)
            action_record(
                alert=alert,
                action=AlertActionType.NOTIFICATION_FAILED,
                details={
                    **details,
                    "error": error.message[:500],
                    "permanent": error.permanent,
                    "attempts": retries + 1,
                },
            )
            return attempt
    raise RetryDelivery(error.message, countdown=backoff_seconds(retries, error.retry_after))


def channel_test_send(*, channel: NotificationChannel) -> tuple[bool, str]:
    """A synchronous, never-retried test send. Success clears the flag."""
    notification = Notification(
        event="test",
        delivery_id=f"msg_{uuid.uuid4().hex}",
        subject=f"Test notification for {channel.name}",
        text="If you can read this, the channel works.",
        severity="low",
        data={"timestamp": timezone.now().isoformat(), "event": "test", "channel": channel.name},
    )
    try:
        adapter_for(channel.kind).send(channel.config, notification)
    except DeliveryError as exc:
        NotificationChannel.objects.filter(pk=channel.pk).update(
            last_error=exc.message[:1000], last_failure_at=timezone.now()
        )
        return False, exc.message
    NotificationChannel.objects.filter(pk=channel.pk).update(
        disabled=False, disabled_reason="", consecutive_failures=0, last_error="", last_success_at=timezone.now()
    )
    return True, ""
