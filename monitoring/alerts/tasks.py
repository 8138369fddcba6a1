"""Celery tasks of the alerts half: thin wrappers around one service each.

Names matter for routing: anything with "notif" in its name goes to the
notifications queue, the rest of monitoring.* to the alerts queue.
"""

import structlog
from celery import shared_task
from django.utils import timezone

from monitoring.alerts.services import (
    alert_escalate_due,
    alerts_close_resolved,
    escalations_run,
    notification_deliver,
    rules_evaluate_all,
)
from monitoring.alerts.services.notifications import RetryDelivery

logger = structlog.get_logger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def alert_rules_evaluate_task() -> dict:
    counts = rules_evaluate_all()
    logger.info("alert_rules_evaluated", **counts)
    return counts


@shared_task(acks_late=True, ignore_result=True)
def alert_escalations_run_task() -> int:
    return escalations_run(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def alert_escalate_task(alert_id: int, step: int) -> bool:
    # A stale task (the alert was acknowledged, resolved or already moved
    # on since this was queued) returns False and does nothing.
    return alert_escalate_due(alert_id=alert_id, step=step, now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def alerts_close_resolved_task() -> int:
    return alerts_close_resolved()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def alert_notification_send_task(self, alert_id: int, channel_id: int, event: str, delivery_id: str, reason: str = ""):
    try:
        notification_deliver(
            alert_id=alert_id,
            channel_id=channel_id,
            event=event,
            delivery_id=delivery_id,
            reason=reason,
            retries=self.request.retries,
        )
    except RetryDelivery as exc:
        # The service decided there are retries left (conf.NOTIFY_MAX_RETRIES)
        # and how long to wait (exponential backoff with jitter).
        if self.request.is_eager:
            # Run in-process (tests, CELERY_TASK_ALWAYS_EAGER) there is no
            # broker to come back through: the retry runs at once, inline.
            self.apply(args=self.request.args, kwargs=self.request.kwargs, retries=self.request.retries + 1)
            return
        raise self.retry(exc=exc, countdown=exc.countdown) from None
