"""Real alert rows for the application figures."""

import uuid

from django.utils import timezone

from monitoring.models import Alert, AlertRule


def make_alert(*, severity: str, status: str) -> Alert:
    rule = AlertRule.objects.create(name=f"rule {uuid.uuid4().hex[:8]}", metric="log_count", threshold=1)
    now = timezone.now()
    return Alert.objects.create(
        rule=rule,
        fingerprint=uuid.uuid4().hex,
        severity=severity,
        status=status,
        triggered_at=now,
        last_seen_at=now,
    )
